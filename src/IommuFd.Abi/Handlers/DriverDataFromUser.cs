using IommuFd.Core;
using IommuFd.Core.Drivers;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Memory;

namespace IommuFd.Abi.Handlers;

/// <summary>Driver data that stays in user memory until the driver asks for it.</summary>
internal sealed class DriverDataFromUser(IUserMemory memory, uint type, uint length, ulong pointer) : IDriverData
{
    public uint Type { get; } = type;

    public uint Length { get; } = length;

    public Errno CopyTo(Span<byte> destination) =>
        pointer == 0 ? Errno.EFAULT : UserCopy.From(memory, pointer, destination[..(int)Math.Min((uint)destination.Length, Length)]);

    public Errno CopyFrom(ReadOnlySpan<byte> source) =>
        pointer == 0 ? Errno.EFAULT : UserCopy.To(memory, pointer, source[..(int)Math.Min((uint)source.Length, Length)]);
}
