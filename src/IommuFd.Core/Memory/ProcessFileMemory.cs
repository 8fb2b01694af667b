using System.Runtime.InteropServices;

namespace IommuFd.Core.Memory;

/// <summary>
/// Maps a file descriptor of this process with mmap(MAP_SHARED), so its pages are reached through
/// <see cref="ProcessUserMemory"/> like any other user memory and stay shared with the file.
/// </summary>
public sealed partial class ProcessFileMemory : IFileMemory
{
    public static readonly ProcessFileMemory Instance = new();

    private const int ProtRead = 1, ProtWrite = 2, MapShared = 1;

    private ProcessFileMemory() { }

    public unsafe Errno MapFile(int fd, ulong start, ulong length, bool writable, out ulong address, out IDisposable mapping)
    {
        address = 0;
        mapping = null!;
        if (fd < 0)
            return Errno.EBADF;
        var size = FileSize(fd);
        if (size < 0)
            return Errno.EBADF;
        if (length == 0 || start > (ulong)size || length > (ulong)size - start)
            return Errno.EINVAL;
        var offset = CpuPage.AlignDown(start);
        var span = (start - offset) + length;
        var mapped = Mmap(0, (nuint)span, ProtRead | (writable ? ProtWrite : 0), MapShared, fd, (long)offset);
        if (mapped == -1)
            return Errno.EINVAL;
        address = (ulong)mapped + (start - offset);
        mapping = new Unmapper(mapped, (nuint)span);
        return Errno.Ok;
    }

    private static long FileSize(int fd)
    {
        // lseek to the end gives the size without decoding struct stat.
        var current = Lseek(fd, 0, 1);
        if (current < 0)
            return -1;
        var end = Lseek(fd, 0, 2);
        Lseek(fd, current, 0);
        return end;
    }

    private sealed class Unmapper(nint address, nuint length) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 0)
                Munmap(address, length);
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap", SetLastError = true)]
    private static partial nint Mmap(nint address, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap", SetLastError = true)]
    private static partial int Munmap(nint address, nuint length);

    [LibraryImport("libc", EntryPoint = "lseek", SetLastError = true)]
    private static partial long Lseek(int fd, long offset, int whence);
}
