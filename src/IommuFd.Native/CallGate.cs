using System.Diagnostics;
using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// Knows which threads are running engine code, and on which context, with a per-thread slot
/// instead of shared counters: entering is a thread-local load and two stores, no locked
/// instruction. The rare sides pay for the ordering with a process-wide memory barrier
/// (membarrier), as in an asymmetric Dekker lock. Two users:
/// <list type="bullet">
/// <item>close: a context is disposed only once no thread is inside it (<see cref="NoneInside"/>);</item>
/// <item>fork: <see cref="CloseForFork"/> waits until no thread is inside at all, and callers
/// arriving meanwhile wait in a native mutex, i.e. outside managed code, until
/// <see cref="ReopenAfterFork"/>. So fork() never copies a half-done change (a held lock, a GC in
/// progress) into a child (docs/fork.md, docs/native-boundary.md).</item>
/// </list>
/// </summary>
internal sealed unsafe class CallGate
{
    /// <summary>Marks a thread inside the engine on no particular context (open, close, object fds).</summary>
    public const long NoContext = -1;

    /// <summary>A fork waits this long for calls to finish, so a stuck call can never hang the parent.</summary>
    public static readonly TimeSpan DefaultDrainTimeout = TimeSpan.FromMilliseconds(100);

    internal sealed class ThreadSlot(CallGate owner)
    {
        public readonly CallGate Owner = owner;

        /// <summary>The handle being served, <see cref="NoContext"/>, or 0 when outside.</summary>
        public long Current;
    }

    [ThreadStatic]
    private static ThreadSlot? t_slot;

    private readonly Lock _registryLock = new();
    private readonly long _drainTicks;
    private readonly void* _forkMutex = NativeMemory.AllocZeroed(64); // all-zero is PTHREAD_MUTEX_INITIALIZER in glibc
    private volatile ThreadSlot[] _registry = [];
    private volatile int _forkPending;

    public CallGate() : this(DefaultDrainTimeout)
    {
    }

    public CallGate(TimeSpan drainTimeout) => _drainTicks = (long)(drainTimeout.TotalSeconds * Stopwatch.Frequency);

    /// <summary>The time a call is inside, as a scope: <c>using var _ = gate.Enter(handle);</c>.</summary>
    public readonly ref struct Scope
    {
        private readonly ThreadSlot? _slot;

        internal Scope(ThreadSlot? slot) => _slot = slot;

        public void Dispose()
        {
            if (_slot is not null)
                Volatile.Write(ref _slot.Current, 0);
        }
    }

    /// <summary>
    /// Marks this thread inside on <paramref name="handle"/> (after waiting out a fork). A thread
    /// already inside (the shim closing an object fd from within an ioctl) stays marked as it was.
    /// </summary>
    public Scope Enter(long handle)
    {
        ThreadFailNth.AdoptQueued();
        var slot = Slot();
        if (Volatile.Read(ref slot.Current) != 0)
            return new Scope(null);
        while (true)
        {
            Volatile.Write(ref slot.Current, handle);
            if (_forkPending == 0)
                return new Scope(slot);
            Volatile.Write(ref slot.Current, 0);
            // Block in native code (preemptive mode) until the fork is over.
            Libc.PthreadMutexLock(_forkMutex);
            Libc.PthreadMutexUnlock(_forkMutex);
        }
    }

    /// <summary>The handle this thread is inside on (<see cref="NoContext"/>), or 0 when outside.</summary>
    public long CurrentHandle => t_slot is { } slot && slot.Owner == this ? Volatile.Read(ref slot.Current) : 0;

    /// <summary>
    /// True when no thread is inside on <paramref name="handle"/>. The caller has made the handle
    /// unreachable and issued a full barrier (process-wide when other threads may not have).
    /// </summary>
    public bool NoneInside(long handle)
    {
        foreach (var slot in _registry)
            if (Volatile.Read(ref slot.Current) == handle)
                return false;
        return true;
    }

    /// <summary>
    /// Fork's prepare handler: holds new callers at the gate and waits (at most the drain
    /// timeout) until no thread is inside. True when none is.
    /// </summary>
    public bool CloseForFork()
    {
        Libc.PthreadMutexLock(_forkMutex);
        _forkPending = 1;
        Interlocked.MemoryBarrierProcessWide(); // every slot store is now visible, or its owner sees _forkPending
        var deadline = Stopwatch.GetTimestamp() + _drainTicks;
        var drained = true;
        foreach (var slot in _registry)
        {
            var spin = new SpinWait();
            while (Volatile.Read(ref slot.Current) != 0 && (drained = Stopwatch.GetTimestamp() < deadline))
                spin.SpinOnce();
        }
        return drained;
    }

    /// <summary>Fork's parent handler: lets held callers in.</summary>
    public void ReopenAfterFork()
    {
        _forkPending = 0;
        Libc.PthreadMutexUnlock(_forkMutex);
    }

    private ThreadSlot Slot()
    {
        var slot = t_slot;
        return slot is not null && slot.Owner == this ? slot : Register();
    }

    private ThreadSlot Register()
    {
        var slot = new ThreadSlot(this);
        lock (_registryLock)
            _registry = [.. _registry, slot];
        t_slot = slot;
        return slot;
    }
}
