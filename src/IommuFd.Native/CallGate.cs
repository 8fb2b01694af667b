using System.Diagnostics;
using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// Knows which threads are running engine code, and on which context, with a per-thread slot
/// instead of shared counters: the hot path is a thread-local store and a load, no locked
/// instruction. The rare sides pay for the ordering with a process-wide memory barrier
/// (membarrier), as in an asymmetric Dekker lock. Two users:
/// <list type="bullet">
/// <item>close: a context is disposed only once no thread is inside it (<see cref="NoneInside"/>);</item>
/// <item>fork: a pthread_atfork prepare handler waits until no thread is inside at all, and
/// callers arriving meanwhile wait in a native mutex, i.e. outside managed code. So fork() never
/// copies a half-done change (a held lock, a GC in progress) into a child (docs/fork.md).</item>
/// </list>
/// </summary>
internal static unsafe class CallGate
{
    /// <summary>Marks a thread inside the engine on no particular context (open, close).</summary>
    public const long NoContext = -1;

    /// <summary>A fork waits this long for calls to finish, so a stuck call can never hang the parent.</summary>
    private static readonly long DrainTimeout = Stopwatch.Frequency / 10;

    public sealed class ThreadSlot
    {
        /// <summary>The handle being served, <see cref="NoContext"/>, or 0 when outside.</summary>
        internal long Current;
        internal int Generation;
    }

    [ThreadStatic]
    private static ThreadSlot? _slot;

    private static readonly Lock RegistryLock = new();
    private static volatile ThreadSlot[] _registry = [];
    private static volatile int _forkPending;
    private static bool _prepared;
    private static int _generation;
    private static void* _forkMutex;

    public static void Initialize()
    {
        _forkMutex = NewMutex();
        Libc.PthreadAtfork(&Prepare, &Parent, null);
    }

    public static ThreadSlot Slot()
    {
        var slot = _slot;
        return slot is not null && slot.Generation == _generation ? slot : Register();
    }

    /// <summary>Marks the thread inside on <paramref name="handle"/>; false (after waiting out a fork) means retry.</summary>
    public static bool TryEnter(ThreadSlot slot, long handle)
    {
        Volatile.Write(ref slot.Current, handle);
        if (_forkPending == 0)
            return true;
        Volatile.Write(ref slot.Current, 0);
        // Block in native code (preemptive mode) until the fork is over.
        Libc.PthreadMutexLock(_forkMutex);
        Libc.PthreadMutexUnlock(_forkMutex);
        return false;
    }

    public static void Leave(ThreadSlot slot) => Volatile.Write(ref slot.Current, 0);

    /// <summary>
    /// True when no thread is inside on <paramref name="handle"/>. The caller has made the handle
    /// unreachable and issued a full barrier (process-wide when other threads may not have).
    /// </summary>
    public static bool NoneInside(long handle)
    {
        foreach (var slot in _registry)
            if (Volatile.Read(ref slot.Current) == handle)
                return false;
        return true;
    }

    /// <summary>In a forked child still using this copy: forget the parent's threads, open the gate.</summary>
    public static void ResetInChild()
    {
        _forkMutex = NewMutex(); // the old one is still held by the parent's prepare handler
        _registry = [];
        Interlocked.Increment(ref _generation);
        _prepared = false;
        _forkPending = 0;
    }

    private static ThreadSlot Register()
    {
        var slot = new ThreadSlot { Generation = Volatile.Read(ref _generation) };
        lock (RegistryLock)
            _registry = [.. _registry, slot];
        _slot = slot;
        return slot;
    }

    [UnmanagedCallersOnly]
    private static void Prepare()
    {
        // A copy that only relays, or one in a child that has not called it yet (its state is the
        // parent's, gate closed), has nothing running here to wait for.
        if (ChildRelay.Active || ForkGuard.InUnhandledChild)
            return;
        try
        {
            Libc.PthreadMutexLock(_forkMutex);
            _prepared = true;
            _forkPending = 1;
            Interlocked.MemoryBarrierProcessWide(); // every slot store is now visible, or its owner sees _forkPending
            var deadline = Stopwatch.GetTimestamp() + DrainTimeout;
            foreach (var slot in _registry)
            {
                var spin = new SpinWait();
                while (Volatile.Read(ref slot.Current) != 0 && Stopwatch.GetTimestamp() < deadline)
                    spin.SpinOnce();
            }
            Engine.PrepareFork();
        }
        catch
        {
            // Never fail a fork.
        }
    }

    [UnmanagedCallersOnly]
    private static void Parent()
    {
        if (!_prepared)
            return;
        try
        {
            ForkLink.Parent();
        }
        catch
        {
            // Never fail a fork: the child's inherited fds then answer EIO.
        }
        _prepared = false;
        _forkPending = 0;
        Libc.PthreadMutexUnlock(_forkMutex);
    }

    private static void* NewMutex() => NativeMemory.AllocZeroed(64); // all-zero is PTHREAD_MUTEX_INITIALIZER in glibc
}
