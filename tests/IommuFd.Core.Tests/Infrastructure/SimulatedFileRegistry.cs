using IommuFd.Core.Memory;

namespace IommuFd.Core.Tests.Infrastructure;

/// <summary>Files for MAP_FILE that already live in simulated memory: each "file" is a mapped run of it, named by a made-up descriptor, and mapping it maps that run in place.</summary>
internal sealed class SimulatedFileRegistry(SimulatedUserMemory memory) : IFileMemory
{
    private readonly Dictionary<int, (ulong Address, ulong Length)> _files = [];

    /// <summary>A new file of <paramref name="length"/> bytes living at <paramref name="address"/>; its descriptor.</summary>
    public int AddFile(ulong address, ulong length)
    {
        memory.Map(address, length);
        var fd = 100 + _files.Count;
        _files[fd] = (address, length);
        return fd;
    }

    public Errno MapFile(int fd, ulong start, ulong length, bool writable, out ulong address, out IDisposable mapping)
    {
        address = 0;
        mapping = null!;
        if (!_files.TryGetValue(fd, out var file))
            return Errno.EBADF;
        if (start > file.Length || length > file.Length - start)
            return Errno.EINVAL;
        address = file.Address + start;
        mapping = new Unmapped();
        return Errno.Ok;
    }

    private sealed class Unmapped : IDisposable
    {
        public void Dispose()
        {
        }
    }
}
