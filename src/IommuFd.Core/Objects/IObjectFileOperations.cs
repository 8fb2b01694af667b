using IommuFd.Core.Memory;

namespace IommuFd.Core.Objects;

/// <summary>
/// read() and write() on an object fd (a fault queue's records and responses). Objects whose fds
/// are only closed (the self-test's access fd) do not implement it: read/write there is EINVAL.
/// </summary>
public interface IObjectFileOperations
{
    /// <summary>Copies whole records into [buffer, +length): bytes copied, 0 when none are waiting.</summary>
    Errno Read(IUserMemory memory, ulong buffer, ulong length, out ulong done);

    /// <summary>Takes whole records from [buffer, +length): bytes consumed.</summary>
    Errno Write(IUserMemory memory, ulong buffer, ulong length, out ulong done);
}
