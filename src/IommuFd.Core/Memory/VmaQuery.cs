using System.Runtime.InteropServices;

namespace IommuFd.Core.Memory;

/// <summary>
/// Asks the kernel which mapping covers an address with the PROCMAP_QUERY ioctl on an open maps
/// file (Linux 6.11+): one syscall per mapping and no text, where reading /proc/self/maps makes
/// the kernel print every mapping. Answers are live, never cached: a program may unmap and remap
/// between two pins. Null means "cannot tell here" (an older kernel): read the text instead.
/// </summary>
internal static partial class VmaQuery
{
    // _IOWR('f', 17, struct procmap_query): 104 bytes, magic 0x66, number 17.
    private const uint ProcmapQuery = 0xC068_6611;
    private const ulong VmaReadable = 0x1;
    private const ulong VmaWritable = 0x2;
    private const int OpenReadOnlyCloseOnExec = 0x80000;
    private const int ENOENT = 2, ESRCH = 3;

    /// <summary>This process's maps fd and the pid that opened it: a forked child inherits the fd, which still shows its parent.</summary>
    private sealed record OwnMaps(int Pid, int Fd);

    private static OwnMaps? _own;
    private static volatile bool _unsupported;

    /// <summary>For tests: answer nothing on this thread, so callers take the text path.</summary>
    [ThreadStatic]
    internal static bool Disabled;

    /// <summary>Whether the kernel answered "no" to the query once (older than 6.11): stop asking.</summary>
    internal static bool Unsupported => _unsupported;

    /// <summary>
    /// Whether every byte of <paramref name="want"/> in process <paramref name="pid"/> (0: this
    /// one) is mapped readable (and writable when asked); false when the process is gone; null
    /// when the query is not available.
    /// </summary>
    public static bool? Covers(int pid, IovaRange want, bool writable)
    {
        if (_unsupported || Disabled)
            return null;
        if (pid == 0)
        {
            var fd = OwnDescriptor();
            return fd < 0 ? null : Walk(fd, want, writable);
        }
        // Another process's maps: opened per question, as nothing tells when that process is done.
        var theirs = Open($"/proc/{pid}/maps", OpenReadOnlyCloseOnExec);
        if (theirs < 0)
            return null;
        try
        {
            return Walk(theirs, want, writable);
        }
        finally
        {
            _ = Close(theirs);
        }
    }

    private static unsafe bool? Walk(int fd, IovaRange want, bool writable)
    {
        var cursor = want.Start;
        while (true)
        {
            // No query flags: only the mapping that covers the cursor, ENOENT in a hole.
            var query = new Query { Size = (ulong)sizeof(Query), Address = cursor };
            if (Ioctl(fd, ProcmapQuery, &query) != 0)
            {
                var error = Marshal.GetLastPInvokeError();
                if (error is ENOENT or ESRCH)
                    return false;
                _unsupported = true;
                return null;
            }
            if ((query.VmaFlags & VmaReadable) == 0 || (writable && (query.VmaFlags & VmaWritable) == 0))
                return false;
            if (query.VmaEnd - 1 >= want.Last)
                return true;
            cursor = query.VmaEnd;
        }
    }

    private static int OwnDescriptor()
    {
        var pid = GetPid();
        var current = Volatile.Read(ref _own);
        if (current is not null && current.Pid == pid)
            return current.Fd;
        var fd = Open("/proc/self/maps", OpenReadOnlyCloseOnExec);
        if (fd < 0)
            return -1;
        var mine = new OwnMaps(pid, fd);
        var before = Interlocked.CompareExchange(ref _own, mine, current);
        if (before != current)
        {
            // Another thread opened one first: use it if it is this process's.
            _ = Close(fd);
            return before is not null && before.Pid == pid ? before.Fd : -1;
        }
        if (current is not null)
            _ = Close(current.Fd); // the parent's, inherited across fork: this process's copy only
        return fd;
    }

    /// <summary>struct procmap_query, include/uapi/linux/fs.h.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Query
    {
        public ulong Size;
        public ulong Flags;
        public ulong Address;
        public ulong VmaStart;
        public ulong VmaEnd;
        public ulong VmaFlags;
        public ulong VmaPageSize;
        public ulong VmaOffset;
        public ulong Inode;
        public uint DevMajor;
        public uint DevMinor;
        public uint VmaNameSize;
        public uint BuildIdSize;
        public ulong VmaNameAddress;
        public ulong BuildIdAddress;
    }

    // Not Environment.ProcessId: .NET caches it, and a forked child must ask about its own maps.
    [LibraryImport("libc", EntryPoint = "getpid")]
    private static partial int GetPid();

    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "ioctl", SetLastError = true)]
    private static unsafe partial int Ioctl(int fd, nuint request, Query* query);
}
