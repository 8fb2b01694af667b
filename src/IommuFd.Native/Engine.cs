using IommuFd.Abi.Dispatch;
using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Native;

/// <summary>
/// The process-wide engine behind the exports: one <see cref="IommuHost"/> (this process's memory
/// and RLIMIT_MEMLOCK) shared by every context, and the handle table.
/// </summary>
/// <remarks>
/// fork(): a child gets a copy of everything here, but not the threads that were running in it,
/// so inherited state (contexts, locks, the runtime's thread list) may be mid-change. The first
/// call in a child therefore starts a new epoch in a fresh copy of the engine (ChildRelay),
/// touching nothing inherited: contexts opened in the child work; handles inherited from the
/// parent are EIO (see docs/fork.md).
/// </remarks>
internal static class Engine
{
    private const int EBADF = 9;
    private const int EIO = 5;
    private const int EINVAL = 22;

    private static readonly Lock InitLock = new();
    private static readonly Action StartEpochAction = StartEpoch;
    private static IUserMemory _memory = ProcessUserMemory.Instance;
    private static volatile IommuHost? _host;
    private static volatile ContextTable _contexts = new(0);
    private static unsafe HostCallbacks* _objectCallbacks;
    private static volatile ShimObjectFiles? _files;

    public static unsafe int Initialize(HostCallbacks* callbacks) => Initialize(callbacks, epoch: 0, enginePath: null);

    /// <summary>A fresh copy in a forked child (ChildRelay): its handles carry <paramref name="epoch"/>.</summary>
    public static unsafe int Initialize(HostCallbacks* callbacks, int epoch, byte* enginePath)
    {
        lock (InitLock)
        {
            if (_host is not null)
                return 0;
            if (callbacks is not null)
            {
                _memory = new HostUserMemory(*callbacks, ProcessUserMemory.Instance);
                _objectCallbacks = callbacks;
            }
            _contexts = new ContextTable(Math.Clamp(epoch, 0, ContextTable.MaxEpoch));
            ChildRelay.Initialize(callbacks, enginePath);
            ForkGuard.Initialize();
            CallGate.Initialize();
            var trace = Environment.GetEnvironmentVariable("IOMMUFD_EMU_TRACE");
            if (!string.IsNullOrEmpty(trace) && IoctlTracer.Open(trace) is { } tracer)
                IoctlDispatcher.Observer = tracer.Record;
            _host = NewHost();
            return 0;
        }
    }

    public static unsafe long Open()
    {
        if (ChildRelay.Active)
            return ChildRelay.Open();
        if (_host is null)
            Initialize(null); // a caller that skipped init gets this process's memory
        ForkGuard.CheckAndRearm(StartEpochAction);
        if (ChildRelay.Active)
            return ChildRelay.Open();
        var slot = CallGate.Slot();
        while (!CallGate.TryEnter(slot, CallGate.NoContext))
        {
        }
        try
        {
            var context = new IommufdContext(_host!);
            var handle = _contexts.Add(context);
            if (handle == 0)
            {
                context.Dispose();
                return -24; // EMFILE
            }
            return handle;
        }
        finally
        {
            CallGate.Leave(slot);
        }
    }

    public static int Ioctl(long handle, ulong command, ulong arg)
    {
        // A forked child using an fd it inherited: the context is the parent's (ForkLink).
        if (ForkLink.Owns(handle))
            return ForkLink.Forward(handle, command, arg);
        if (ChildRelay.Active)
            return ChildRelay.Ioctl(handle, command, arg);
        ForkGuard.CheckAndRearm(StartEpochAction);
        if (ChildRelay.Active)
            return ChildRelay.Ioctl(handle, command, arg);
        return Serve(handle, caller: null, command, arg);
    }

    /// <summary>
    /// Runs an ioctl on a context of this engine, for this process or (<paramref name="caller"/>)
    /// a forked child relaying through <see cref="ForkLink"/>.
    /// </summary>
    private static int Serve(long handle, IommuHost? caller, ulong command, ulong arg)
    {
        var slot = CallGate.Slot();
        // Marked inside before the look-up, so a close racing us either sees the mark or makes
        // the look-up fail.
        while (!CallGate.TryEnter(slot, handle))
        {
        }
        ContextTable.Entry? entry = null;
        try
        {
            var table = _contexts;
            entry = table.Find(handle);
            if (entry is null)
                return Refuse(command, handle, handle > 0 && ContextTable.EpochOf(handle) < table.Epoch ? -EIO : -EBADF);
            if (entry.Closed != 0)
                return Refuse(command, handle, -EBADF);
            return IoctlDispatcher.Ioctl(entry.Context, caller ?? entry.Context.Host, command, (nint)arg);
        }
        finally
        {
            CallGate.Leave(slot);
            if (entry is not null && entry.Closed != 0)
                ContextTable.AfterLeavingClosed(entry);
        }
    }

    public static void Close(long handle)
    {
        if (ChildRelay.Active)
        {
            ChildRelay.Close(handle);
            return;
        }
        ForkGuard.CheckAndRearm(StartEpochAction);
        if (ChildRelay.Active)
        {
            ChildRelay.Close(handle);
            return;
        }
        var slot = CallGate.Slot();
        while (!CallGate.TryEnter(slot, CallGate.NoContext))
        {
        }
        try
        {
            // An inherited handle is simply forgotten: its context belongs to the parent's epoch.
            _contexts.Remove(handle);
        }
        finally
        {
            CallGate.Leave(slot);
        }
    }

    /// <summary>
    /// The host for the current epoch: object fds are real fds made by the shim when it can
    /// (cookies carry the epoch, so a parent's inherited object is never taken for ours).
    /// </summary>
    private static unsafe IommuHost NewHost()
    {
        var host = new IommuHost(_memory, MemlockLimit.ForThisProcess()) { FileMemory = ProcessFileMemory.Instance };
        if (_objectCallbacks is not null)
            host.Files = _files = new ShimObjectFiles(_objectCallbacks, _contexts.Epoch);
        return host;
    }

    /// <summary>The shim's last fd for an object fd was closed: run its close action.</summary>
    public static void ReleaseObject(ulong cookie)
    {
        if (ChildRelay.Active)
        {
            ChildRelay.ReleaseObject(cookie);
            return;
        }
        // Nothing ran in this child yet, so the object is the parent's: ignore it, as inherited
        // contexts are (without starting an epoch just for that).
        if (ForkGuard.InUnhandledChild)
            return;
        if (_files is not { } files)
            return;
        // Usually reached from a close() outside the engine; from CloseFd inside an ioctl, the
        // thread is already marked inside.
        var slot = CallGate.Slot();
        var nested = Volatile.Read(ref slot.Current) != 0;
        while (!nested && !CallGate.TryEnter(slot, CallGate.NoContext))
        {
        }
        try
        {
            files.Release(cookie);
        }
        finally
        {
            if (!nested)
                CallGate.Leave(slot);
        }
    }

    /// <summary>read() on an object fd: bytes copied to <paramref name="buffer"/>, or -errno.</summary>
    public static long ObjectRead(ulong cookie, ulong buffer, ulong length)
    {
        if (ChildRelay.Active)
            return ChildRelay.ObjectRead(cookie, buffer, length);
        return ObjectTransfer(cookie, buffer, length, write: false);
    }

    /// <summary>write() on an object fd: bytes taken from <paramref name="buffer"/>, or -errno.</summary>
    public static long ObjectWrite(ulong cookie, ulong buffer, ulong length)
    {
        if (ChildRelay.Active)
            return ChildRelay.ObjectWrite(cookie, buffer, length);
        return ObjectTransfer(cookie, buffer, length, write: true);
    }

    private static long ObjectTransfer(ulong cookie, ulong buffer, ulong length, bool write)
    {
        // Nothing ran in this child yet, so the object is the parent's: EIO, as for an inherited
        // context (without starting an epoch just for that).
        if (ForkGuard.InUnhandledChild)
            return -EIO;
        if (_files is not { } files)
            return -EBADF;
        // As in ReleaseObject: the thread may already be marked inside.
        var slot = CallGate.Slot();
        var nested = Volatile.Read(ref slot.Current) != 0;
        while (!nested && !CallGate.TryEnter(slot, CallGate.NoContext))
        {
        }
        try
        {
            var target = files.Find(cookie);
            if (target is null)
                return files.IsInherited(cookie) ? -EIO : -EBADF;
            if (target is not IObjectFileOperations operations)
                return -EINVAL; // an object whose fd is only closed (the access fd)
            var errno = write
                ? operations.Write(_memory, buffer, length, out var done)
                : operations.Read(_memory, buffer, length, out done);
            return errno == Errno.Ok ? (long)done : -(long)errno;
        }
        finally
        {
            if (!nested)
                CallGate.Leave(slot);
        }
    }

    /// <summary>The host a forked child's relayed ioctls run with (its memory, by pid), or null before init.</summary>
    public static IommuHost? HostForChild(int pid) => _host?.ForChildProcess(pid);

    /// <summary>Runs an ioctl a forked child sent over its <see cref="ForkLink"/>, as that child.</summary>
    public static int IoctlFor(IommuHost caller, long handle, ulong command, ulong arg) => Serve(handle, caller, command, arg);

    /// <summary>Parent, before fork (the gate is closed): a link for the child, if it could inherit a context.</summary>
    public static void PrepareFork() => ForkLink.Prepare(_contexts);

    /// <summary>A call refused before dispatch still shows in the trace, with why.</summary>
    private static int Refuse(ulong command, long handle, int result)
    {
        if (IoctlDispatcher.Observer is { } observer)
        {
            var op = IoctlTable.Find((uint)command);
            var name = op is not null && op.Number == (uint)command ? op.Name : $"0x{command:x}";
            var why = result == -EIO ? "context inherited across fork()" : "closed or unknown handle";
            observer(new IoctlEvent((uint)command, name, $"handle=0x{handle:x} ({why})", "", result, TimeSpan.Zero));
        }
        return result;
    }

    /// <summary>Runs once in a forked child before anything else: nothing inherited is touched.</summary>
    private static void StartEpoch()
    {
        var epoch = Math.Min(_contexts.Epoch + 1, ContextTable.MaxEpoch);
        if (ChildRelay.TryStart(epoch))
            return;
        // No fresh copy could be loaded: carry on in this runtime, which is safe unless a parent
        // thread was caught in managed code (docs/fork.md).
        CallGate.ResetInChild();
        _contexts = new ContextTable(epoch);
        _host = NewHost();
    }
}
