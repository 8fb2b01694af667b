using IommuFd.Core;

namespace IommuFd.Native.Fork;

/// <summary>
/// Where calls run in a child forked from an engine: a handle or object cookie inherited from
/// the parent's epoch belongs to the parent, everything else to the child's own engine, started
/// on the first call that needs it (a fresh copy, <see cref="EngineCopy"/>, or failing that a
/// new epoch in this runtime).
/// </summary>
/// <remarks>
/// Inherited contexts run in the parent through the fork link (<see cref="ForkLink"/>), with the
/// child's memory; without a link (the parent had no context open, or the socket failed) they
/// answer EIO. Inherited object fds answer EIO to read/write and are ignored on release: the
/// object is the parent's (docs/fork.md). A child that only uses inherited fds starts no engine.
/// Made by the parent's engine before any fork, so the child never allocates to switch to it.
/// </remarks>
internal sealed class ChildRoute(int parentEpoch, ForkLink link, EngineCopy copy, Func<int, IEngineRoute> startInPlace) : IEngineRoute
{
    private readonly int _epoch = ContextTable.NextEpoch(parentEpoch);
    private volatile IEngineRoute? _engine;
    private int _starting;

    public long Open() => Engine().Open();

    /// <summary>The child's own contexts run in its own engine: its fail-nth lives there.</summary>
    public int FailNthSet(int tid, uint n) => Engine().FailNthSet(tid, n);

    public long FailNthGet(int tid) => Engine().FailNthGet(tid);

    public int Ioctl(long handle, ulong command, ulong arg)
    {
        if (IsInherited(handle))
            return ContextTable.EpochOf(handle) == parentEpoch ? link.Forward(handle, command, arg) : NativeResult.Of(Errno.EIO);
        return Engine().Ioctl(handle, command, arg);
    }

    /// <summary>An inherited handle is simply forgotten: its context belongs to the parent.</summary>
    public void Close(long handle)
    {
        if (!IsInherited(handle))
            _engine?.Close(handle);
    }

    public void ReleaseObject(ulong cookie)
    {
        if (!IsInherited(cookie))
            _engine?.ReleaseObject(cookie);
    }

    public long ObjectRead(ulong cookie, ulong buffer, ulong length) =>
        ObjectIo(cookie, buffer, length, static (engine, c, b, l) => engine.ObjectRead(c, b, l));

    /// <summary>A parent's context cannot be mapped from a child (ENODEV); the child's own can.</summary>
    public long Mmap(long handle, ulong offset, ulong length, ulong destination) =>
        IsInherited(handle) ? NativeResult.Of(Errno.ENODEV) : Engine().Mmap(handle, offset, length, destination);

    /// <summary>An inherited mapping is the parent's: ignored.</summary>
    public void Munmap(ulong cookie)
    {
        if (!IsInherited(cookie))
            _engine?.Munmap(cookie);
    }

    public long ObjectWrite(ulong cookie, ulong buffer, ulong length) =>
        ObjectIo(cookie, buffer, length, static (engine, c, b, l) => engine.ObjectWrite(c, b, l));

    /// <summary>
    /// Object data moves only through the child's own objects: the parent's answer EIO, and before the
    /// child has an engine it has no objects (EBADF).
    /// </summary>
    private long ObjectIo(ulong cookie, ulong buffer, ulong length, Func<IEngineRoute, ulong, ulong, ulong, long> io) =>
        IsInherited(cookie) ? NativeResult.Of(Errno.EIO)
        : _engine is { } engine ? io(engine, cookie, buffer, length)
        : NativeResult.Of(Errno.EBADF);

    /// <summary>
    /// A process's pins are counted where they were charged: the parent's engine for what the
    /// child did through inherited fds (and for the parent itself), the child's own engine for its
    /// own contexts. Known when either knows the process.
    /// </summary>
    public unsafe int ProcessPins(int pid, PinCounts* counts)
    {
        PinCounts fromParent, own;
        var known = false;
        *counts = default;
        if (link.QueryPins(pid, &fromParent) == 0)
        {
            counts->Add(fromParent);
            known = true;
        }
        if (_engine is { } engine && engine.ProcessPins(pid, &own) == 0)
        {
            counts->Add(own);
            known = true;
        }
        return known ? 0 : NativeResult.Of(Errno.ENOENT);
    }

    /// <summary>
    /// A fresh copy handles its own forks, and a grandchild keeps using this route (its
    /// grandparent's fds through the same link); an engine started in place makes its own.
    /// </summary>
    public IEngineRoute ForChild() => _engine is { } engine && engine != copy ? engine.ForChild() : this;

    public void PrepareFork() => _engine?.PrepareFork();

    public void AfterForkInParent() => _engine?.AfterForkInParent();

    private bool IsInherited(long handle) => handle > 0 && ContextTable.EpochOf(handle) < _epoch;

    private bool IsInherited(ulong cookie) => ContextTable.EpochOf(cookie) < _epoch;

    /// <summary>The child's engine, started by the first caller; any other waits for it (no lock: see ForkGuard).</summary>
    private IEngineRoute Engine()
    {
        if (_engine is { } engine)
            return engine;
        if (Interlocked.CompareExchange(ref _starting, 1, 0) == 0)
        {
            try
            {
                engine = copy.TryLoad(_epoch) ? copy : startInPlace(_epoch);
            }
            catch
            {
                Volatile.Write(ref _starting, 0); // the next caller tries again
                throw;
            }
            _engine = engine;
            return engine;
        }
        var spin = new SpinWait();
        while ((engine = _engine) is null)
            spin.SpinOnce();
        return engine;
    }
}
