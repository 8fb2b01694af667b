using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Abi.Files;

/// <summary>
/// The fd of a vEVENTQ: read() hands out whole records (<see cref="Veventq.Read"/>); there is
/// nothing to write (EINVAL, as for a file without a write method).
/// </summary>
internal sealed class VeventqFile(Veventq queue) : IObjectFileOperations
{
    public Veventq Queue { get; } = queue;

    public Errno Read(IUserMemory memory, ulong buffer, ulong length, out ulong done) => Queue.Read(memory, buffer, length, out done);

    public Errno Write(IUserMemory memory, ulong buffer, ulong length, out ulong done)
    {
        done = 0;
        return Errno.EINVAL;
    }
}
