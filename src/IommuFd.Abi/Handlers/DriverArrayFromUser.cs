using IommuFd.Core;
using IommuFd.Core.Drivers;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Memory;

namespace IommuFd.Abi.Handlers;

/// <summary>A driver array left in user memory; each entry is read when the driver reaches it.</summary>
internal sealed class DriverArrayFromUser(IUserMemory memory, uint type, uint entryLength, uint count, ulong pointer) : IDriverArray
{
    public uint Type { get; } = type;

    public uint EntryLength { get; } = entryLength;

    public uint Count { get; } = count;

    public Errno CopyEntry(uint index, Span<byte> destination, int minimumLength)
    {
        if (index >= Count || EntryLength < minimumLength || EntryLength > destination.Length)
            return Errno.EINVAL;
        destination.Clear();
        var at = pointer + (ulong)index * EntryLength;
        if (pointer == 0 || at < pointer)
            return Errno.EFAULT;
        return UserCopy.From(memory, at, destination[..(int)EntryLength]);
    }
}
