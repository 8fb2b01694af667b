namespace IommuFd.Core.Memory;

/// <summary>
/// Maps part of a file (a memfd) into addresses the engine's user memory can reach, for
/// IOMMU_IOAS_MAP_FILE. The mapping lives until the returned handle is disposed.
/// </summary>
public interface IFileMemory
{
    /// <summary>
    /// Makes file bytes [start, start+length) reachable at <paramref name="address"/>. EBADF for a
    /// descriptor that is not open, EINVAL when the range goes past the end of the file.
    /// </summary>
    Errno MapFile(int fd, ulong start, ulong length, bool writable, out ulong address, out IDisposable mapping);
}

/// <summary>For hosts with no files (simulated memory): every descriptor is unknown.</summary>
public sealed class NoFileMemory : IFileMemory
{
    public static readonly NoFileMemory Instance = new();

    public Errno MapFile(int fd, ulong start, ulong length, bool writable, out ulong address, out IDisposable mapping)
    {
        address = 0;
        mapping = null!;
        return Errno.EBADF;
    }
}
