using System.Runtime.InteropServices;

namespace IommuFd.Native.Fork;

/// <summary>
/// A fresh copy of the engine, loaded in a forked child from a memfd copy of this very file,
/// with a runtime of its own; once loaded, a route that forwards every call to it.
/// </summary>
/// <remarks>
/// Why: the child's copy of this runtime still lists the parent's threads in the state fork() caught
/// them in. The first GC it runs must suspend them; one caught in managed code (a busy thread
/// entering or leaving an export) no longer exists, and the runtime aborts or hangs. The parent's
/// fork gate (<see cref="CallGate"/>) keeps threads out of engine code, but cannot see the few
/// instructions the runtime runs at each end of an export, nor threads entering while fork() copies
/// memory; measured, about 1 child in 100 still failed with busy parent threads. Relaying avoids
/// the question: once relaying, this copy only forwards (it never allocates, so it never collects),
/// and the new copy's runtime knows only the child's threads. Costs one engine start per child
/// that uses /dev/iommu (about 1 ms) and one extra indirect call per ioctl in such a child.
/// Nothing here allocates managed memory: it runs in the child, on the inherited runtime (the
/// object itself is made in the parent, before the fork).
/// </remarks>
internal sealed unsafe class EngineCopy(HostCallbacks* callbacks, byte* enginePath) : IEngineRoute
{
    private delegate* unmanaged<long> _open;
    private delegate* unmanaged<long, ulong, ulong, int> _ioctl;
    private delegate* unmanaged<long, void> _close;
    private delegate* unmanaged<ulong, void> _releaseObject;
    private delegate* unmanaged<ulong, ulong, ulong, long> _objectRead;
    private delegate* unmanaged<ulong, ulong, ulong, long> _objectWrite;
    private delegate* unmanaged<int, PinCounts*, int> _processPins;
    private delegate* unmanaged<long, ulong, ulong, ulong, long> _mmap;
    private delegate* unmanaged<ulong, void> _munmap;
    private delegate* unmanaged<int, uint, int> _failNthSet;
    private delegate* unmanaged<int, long> _failNthGet;

    public long Open() => _open();

    public int Ioctl(long handle, ulong command, ulong arg) => _ioctl(handle, command, arg);

    public void Close(long handle) => _close(handle);

    public void ReleaseObject(ulong cookie) => _releaseObject(cookie);

    public long ObjectRead(ulong cookie, ulong buffer, ulong length) => _objectRead(cookie, buffer, length);

    public long ObjectWrite(ulong cookie, ulong buffer, ulong length) => _objectWrite(cookie, buffer, length);

    public int ProcessPins(int pid, PinCounts* counts) => _processPins(pid, counts);

    public long Mmap(long handle, ulong offset, ulong length, ulong destination) => _mmap(handle, offset, length, destination);

    public void Munmap(ulong cookie) => _munmap(cookie);

    public int FailNthSet(int tid, uint n) => _failNthSet(tid, n);

    public long FailNthGet(int tid) => _failNthGet(tid);

    /// <summary>The copy notices its own forks and registered its own fork handlers.</summary>
    public IEngineRoute ForChild() => this;

    public void PrepareFork()
    {
    }

    public void AfterForkInParent()
    {
    }

    /// <summary>Loads and starts a fresh copy whose handles carry <paramref name="epoch"/>; false leaves nothing changed.</summary>
    public bool TryLoad(int epoch)
    {
        if (enginePath is null)
            return false;
        var fd = CopyToMemfd(enginePath);
        if (fd < 0)
            return false;
        // Loaded by its name "/proc/self/fd/<fd>". A grandchild's copy may get the fd number its
        // parent's copy had, and glibc hands back an object already loaded under the same name:
        // move to another number until the name is unused.
        var path = stackalloc byte[32];
        var held = stackalloc int[8];
        var heldCount = 0;
        while (true)
        {
            WritePath(path, fd);
            var loaded = Libc.Dlopen(path, Libc.RtldNow | Libc.RtldNoload);
            if (loaded == 0)
                break;
            Libc.Dlclose(loaded);
            var next = heldCount < 8 ? Libc.Dup(fd) : -1;
            if (next < 0)
            {
                fd = -1;
                break;
            }
            held[heldCount++] = fd;
            fd = next;
        }
        var library = fd >= 0 ? Libc.Dlopen(path, Libc.RtldNow | Libc.RtldLocal) : 0;
        for (var i = 0; i < heldCount; i++)
            Libc.Close(held[i]);
        if (fd >= 0)
            Libc.Close(fd); // the mapping keeps the file
        if (library == 0)
            return false;
        var init = (delegate* unmanaged<HostCallbacks*, int, byte*, int>)Symbol(library, "iommufd_emu_init_relay\0"u8);
        var open = (delegate* unmanaged<long>)Symbol(library, "iommufd_emu_open\0"u8);
        var ioctl = (delegate* unmanaged<long, ulong, ulong, int>)Symbol(library, "iommufd_emu_ioctl\0"u8);
        var close = (delegate* unmanaged<long, void>)Symbol(library, "iommufd_emu_close\0"u8);
        var releaseObject = (delegate* unmanaged<ulong, void>)Symbol(library, "iommufd_emu_release_object\0"u8);
        var objectRead = (delegate* unmanaged<ulong, ulong, ulong, long>)Symbol(library, "iommufd_emu_object_read\0"u8);
        var objectWrite = (delegate* unmanaged<ulong, ulong, ulong, long>)Symbol(library, "iommufd_emu_object_write\0"u8);
        var processPins = (delegate* unmanaged<int, PinCounts*, int>)Symbol(library, "iommufd_emu_process_pins\0"u8);
        var mmap = (delegate* unmanaged<long, ulong, ulong, ulong, long>)Symbol(library, "iommufd_emu_mmap\0"u8);
        var munmap = (delegate* unmanaged<ulong, void>)Symbol(library, "iommufd_emu_munmap\0"u8);
        var failNthSet = (delegate* unmanaged<int, uint, int>)Symbol(library, "iommufd_emu_fail_nth_set\0"u8);
        var failNthGet = (delegate* unmanaged<int, long>)Symbol(library, "iommufd_emu_fail_nth_get\0"u8);
        if (init is null || open is null || ioctl is null || close is null || releaseObject is null || objectRead is null ||
            objectWrite is null || processPins is null || mmap is null || munmap is null || failNthSet is null || failNthGet is null || (nint)open == (nint)(delegate* unmanaged<long>)&Exports.Open)
            return false; // never relay to ourselves
        // The shim's callbacks stay valid forever: the copy uses them as they are.
        if (init(callbacks, epoch, enginePath) != 0)
            return false;
        _open = open;
        _ioctl = ioctl;
        _close = close;
        _releaseObject = releaseObject;
        _objectRead = objectRead;
        _objectWrite = objectWrite;
        _processPins = processPins;
        _mmap = mmap;
        _munmap = munmap;
        _failNthSet = failNthSet;
        _failNthGet = failNthGet;
        return true;
    }

    private static nint Symbol(nint library, ReadOnlySpan<byte> name)
    {
        fixed (byte* p = name)
            return Libc.Dlsym(library, p);
    }

    /// <summary>A sealed-off copy of the engine file in an anonymous memory file; its fd, or -1.</summary>
    private static int CopyToMemfd(byte* enginePath)
    {
        int source = Libc.OpenRaw(enginePath, Libc.ORdonly | Libc.OCloexec, 0), target;
        if (source < 0)
            return -1;
        fixed (byte* name = "iommufd-engine\0"u8)
            target = Libc.MemfdCreate(name, Libc.MfdCloexec);
        const int chunk = 1 << 16;
        var buffer = (byte*)NativeMemory.Alloc(chunk);
        var ok = target >= 0 && buffer is not null;
        while (ok)
        {
            var n = Libc.Read(source, buffer, chunk);
            if (n <= 0)
            {
                ok = n == 0;
                break;
            }
            for (nint done = 0; ok && done < n;)
            {
                var w = Libc.Write(target, buffer + done, (nuint)(n - done));
                ok = w > 0;
                done += w;
            }
        }
        NativeMemory.Free(buffer);
        Libc.Close(source);
        if (ok)
            return target;
        if (target >= 0)
            Libc.Close(target);
        return -1;
    }

    /// <summary>This library's file, from the dynamic loader (kept in native memory for the children).</summary>
    public static byte* OwnPath()
    {
        Libc.DlInfo info;
        var self = (nint)(delegate* unmanaged<long>)&Exports.Open;
        if (Libc.Dladdr(self, &info) == 0 || info.FileName is null)
            return null;
        var length = 0;
        while (info.FileName[length] != 0)
            length++;
        var copy = (byte*)NativeMemory.Alloc((nuint)length + 1);
        new ReadOnlySpan<byte>(info.FileName, length + 1).CopyTo(new Span<byte>(copy, length + 1));
        return copy;
    }

    private static void WritePath(byte* path, int fd)
    {
        var prefix = "/proc/self/fd/"u8;
        prefix.CopyTo(new Span<byte>(path, 32));
        WriteDecimal(path + prefix.Length, fd);
    }

    private static void WriteDecimal(byte* at, int value)
    {
        Span<byte> digits = stackalloc byte[12];
        var n = 0;
        do
        {
            digits[n++] = (byte)('0' + value % 10);
            value /= 10;
        }
        while (value > 0);
        for (var i = 0; i < n; i++)
            at[i] = digits[n - 1 - i];
        at[n] = 0;
    }
}
