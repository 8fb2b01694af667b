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

    private const int AtEmptyPath = 0x1000;
    private const uint StatxSize = 0x200;
    private const int StatxSizeOffset = 40;
    private const int StatxBufferSize = 256;

    /// <summary>
    /// The file's size from statx (whose layout is the same on every architecture). Never lseek:
    /// the offset belongs to the program, and another of its threads may be writing through it.
    /// </summary>
    private static unsafe long FileSize(int fd)
    {
        var buffer = stackalloc byte[StatxBufferSize];
        if (Statx(fd, "", AtEmptyPath, StatxSize, buffer) != 0)
            return -1;
        return *(long*)(buffer + StatxSizeOffset);
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

    [LibraryImport("libc", EntryPoint = "statx", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int Statx(int dirfd, string path, int flags, uint mask, byte* buffer);
}
