using IommuFd.Abi.Dispatch;
using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Native.Fork;

namespace IommuFd.Native;

/// <summary>
/// This process's engine for one epoch: one <see cref="IommuHost"/> (this process's memory and
/// RLIMIT_MEMLOCK) shared by every context, the handle table, the object fds and the call gate
/// every call enters. Also serves the ioctls its forked children send over their fork links.
/// </summary>
internal sealed unsafe class LocalEngine : IEngineRoute
{
    private readonly CallGate _gate;
    private readonly ContextTable _contexts;
    private readonly IommuHost _host;
    private readonly IUserMemory _memory;
    private readonly ShimObjectFiles? _files;
    private readonly ForkLink _link = new();
    private readonly ForkLinkServer _linkServer;
    private readonly ChildRoute _childRoute;
    private bool _forkPrepared;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<ulong, Core.VirtualIommu.ViommuMapping> _mappings = new();
    private long _mappingSerial;

    /// <param name="callbacks">The shim's (null: this process's memory, simulated object fds).</param>
    /// <param name="epoch">Stamped into every handle and cookie, so a forked child tells inherited ones apart.</param>
    /// <param name="enginePath">This library's file, copied into a forked child (null: children start in place).</param>
    public LocalEngine(HostCallbacks* callbacks, int epoch, byte* enginePath, CallGate? gate = null)
    {
        _gate = gate ?? new CallGate();
        _contexts = new ContextTable(epoch, _gate);
        _memory = callbacks is not null ? new HostUserMemory(*callbacks, ProcessUserMemory.Instance) : ProcessUserMemory.Instance;
        _host = new IommuHost(_memory, MemlockLimit.ForThisProcess()) { FileMemory = ProcessFileMemory.Instance };
        if (callbacks is not null)
            _host.Files = _files = new ShimObjectFiles(callbacks, epoch, _gate);
        _linkServer = new ForkLinkServer(this);
        _childRoute = new ChildRoute(epoch, _link, new EngineCopy(callbacks, enginePath),
            childEpoch => new LocalEngine(callbacks, childEpoch, enginePath));
    }

    public int Epoch => _contexts.Epoch;

    public long Open()
    {
        using var _ = _gate.Enter(CallGate.NoContext);
        var context = new IommufdContext(_host);
        var handle = _contexts.Add(context);
        if (handle != 0)
            return handle;
        context.Dispose();
        return NativeResult.Of(Errno.EMFILE);
    }

    public int Ioctl(long handle, ulong command, ulong arg) => Serve(handle, _host, command, arg);

    /// <summary>An ioctl a forked child sent over its fork link, run with the child's memory.</summary>
    public int ServeForChild(IommuHost caller, long handle, ulong command, ulong arg) => Serve(handle, caller, command, arg);

    /// <summary>The host a forked child's relayed ioctls run with (its memory, by pid).</summary>
    public IommuHost HostForChild(int pid) => _host.ForChildProcess(pid);

    public void Close(long handle)
    {
        using var _ = _gate.Enter(CallGate.NoContext);
        _contexts.Remove(handle);
    }

    /// <summary>The shim's last fd for an object fd was closed: run its close action.</summary>
    public void ReleaseObject(ulong cookie)
    {
        using var _ = _gate.Enter(CallGate.NoContext);
        _files?.Release(cookie);
    }

    /// <summary>read() on an object fd: bytes copied to <paramref name="buffer"/>, or -errno.</summary>
    public long ObjectRead(ulong cookie, ulong buffer, ulong length) => Transfer(cookie, buffer, length, write: false);

    /// <summary>write() on an object fd: bytes taken from <paramref name="buffer"/>, or -errno.</summary>
    public long ObjectWrite(ulong cookie, ulong buffer, ulong length) => Transfer(cookie, buffer, length, write: true);

    public int FailNthSet(int tid, uint n) => ThreadFailNth.Set(tid, n);

    public long FailNthGet(int tid) => ThreadFailNth.Get(tid);

    public int ProcessPins(int pid, PinCounts* counts)
    {
        using var _ = _gate.Enter(CallGate.NoContext);
        if (!_host.TryGetProcessPins(pid, out var pins))
            return NativeResult.Of(Errno.ENOENT);
        *counts = new PinCounts { PinnedPages = pins.PinnedPages, LockedPages = pins.LockedPages };
        return 0;
    }

    /// <summary>A forked child asks for a process's pins: written to <paramref name="address"/> in the child's memory.</summary>
    public int ServePinsForChild(IommuHost caller, int pid, ulong address)
    {
        PinCounts counts;
        var rc = ProcessPins(pid, &counts);
        if (rc != 0)
            return rc;
        return NativeResult.Of(caller.Memory.Write(address, new ReadOnlySpan<byte>(&counts, sizeof(PinCounts))));
    }

    /// <summary>
    /// mmap of a context's fd: the vIOMMU region at exactly (offset, length) is copied to
    /// <paramref name="destination"/> (the shim's fresh mapping), and stays in use until
    /// <see cref="Munmap"/>. A cookie (carrying the epoch, as object cookies do) or -errno.
    /// </summary>
    public long Mmap(long handle, ulong offset, ulong length, ulong destination)
    {
        using var call = new ContextCall(_gate, _contexts, handle);
        if (call.Open is not { } entry)
            return NativeResult.Of(Errno.EBADF);
        var rc = entry.Context.MapViommuRegion(offset, length, out var mapping);
        if (rc != Errno.Ok)
            return NativeResult.Of(rc);
        rc = _memory.Write(destination, mapping!.Region.Contents);
        if (rc != Errno.Ok)
        {
            mapping.Dispose();
            return NativeResult.Of(rc);
        }
        var cookie = ((ulong)Epoch << ContextTable.EpochShift) | (ulong)Interlocked.Increment(ref _mappingSerial);
        _mappings[cookie] = mapping;
        return (long)cookie;
    }

    public void Munmap(ulong cookie)
    {
        using var _ = _gate.Enter(CallGate.NoContext);
        if (_mappings.TryRemove(cookie, out var mapping))
            mapping.Dispose();
    }

    public IEngineRoute ForChild() => _childRoute;

    /// <summary>Closes the gate (waiting for calls inside), then makes a link for the child if it could inherit a context.</summary>
    public void PrepareFork()
    {
        _gate.CloseForFork();
        _link.Prepare(_contexts);
        _forkPrepared = true;
    }

    public void AfterForkInParent()
    {
        if (!_forkPrepared)
            return;
        _forkPrepared = false;
        try
        {
            _link.HandToServer(_linkServer);
        }
        finally
        {
            _gate.ReopenAfterFork();
        }
    }

    /// <summary>One ioctl on an open context (see <see cref="ContextCall"/> for how it races a close).</summary>
    private int Serve(long handle, IommuHost caller, ulong command, ulong arg)
    {
        using var call = new ContextCall(_gate, _contexts, handle);
        if (call.Open is not { } entry)
            return Refuse(command, handle, Errno.EBADF);
        return IoctlDispatcher.Ioctl(entry.Context, caller, command, (nint)arg);
    }

    private long Transfer(ulong cookie, ulong buffer, ulong length, bool write)
    {
        if (_files is null)
            return NativeResult.Of(Errno.EBADF);
        using var _ = _gate.Enter(CallGate.NoContext);
        var target = _files.Find(cookie);
        if (target is null)
            return NativeResult.Of(Errno.EBADF);
        if (target is not IObjectFileOperations operations)
            return NativeResult.Of(Errno.EINVAL); // an object whose fd is only closed (the access fd)
        var errno = write
            ? operations.Write(_memory, buffer, length, out var done)
            : operations.Read(_memory, buffer, length, out done);
        return errno == Errno.Ok ? (long)done : NativeResult.Of(errno);
    }

    /// <summary>A call refused before dispatch still shows in the trace, with why.</summary>
    private static int Refuse(ulong command, long handle, Errno errno)
    {
        if (IoctlDispatcher.Observer is { } observer)
        {
            var op = IoctlTable.Find((uint)command);
            var name = op is not null && op.Number == (uint)command ? op.Name : $"0x{command:x}";
            observer(new IoctlEvent((uint)command, name, $"handle=0x{handle:x} (closed or unknown handle)", "", NativeResult.Of(errno), TimeSpan.Zero));
        }
        return NativeResult.Of(errno);
    }
}
