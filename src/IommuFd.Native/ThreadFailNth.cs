using IommuFd.Core;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Native;

/// <summary>
/// The kernel's per-task fail-nth (<c>/proc/&lt;pid&gt;/task/&lt;tid&gt;/fail-nth</c>) for the threads of this
/// process, by kernel thread ID. Engine calls run on the calling thread, so a thread's own setting
/// is <see cref="FailNth.Remaining"/> itself. A value written for another thread waits here until
/// that thread next enters the engine (<see cref="AdoptQueued"/>); its live countdown cannot be read
/// from another thread, so reading another thread's setting gives what waits for it, else 0.
/// </summary>
internal static class ThreadFailNth
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<int, int> s_queued = [];
    private static volatile int s_queuedCount;

    /// <summary>Sets thread <paramref name="tid"/>'s countdown (0 turns it off): 0.</summary>
    public static int Set(int tid, uint n)
    {
        var value = (int)Math.Min(n, int.MaxValue);
        if (tid == Libc.GetTid())
        {
            FailNth.Remaining = value;
            return 0;
        }
        if (tid <= 0)
            return -(int)Errno.EINVAL;
        lock (s_lock)
        {
            s_queued[tid] = value;
            s_queuedCount = s_queued.Count;
        }
        return 0;
    }

    /// <summary>Thread <paramref name="tid"/>'s countdown: what is left, 0 once injected or off.</summary>
    public static long Get(int tid)
    {
        if (tid == Libc.GetTid())
        {
            AdoptQueued();
            return FailNth.Remaining;
        }
        lock (s_lock)
            return s_queued.TryGetValue(tid, out var n) ? n : 0;
    }

    /// <summary>On entering the engine: takes over a value another thread wrote for this one. Off, one volatile read.</summary>
    public static void AdoptQueued()
    {
        if (s_queuedCount == 0)
            return;
        var tid = Libc.GetTid();
        lock (s_lock)
        {
            if (!s_queued.Remove(tid, out var n))
                return;
            s_queuedCount = s_queued.Count;
            FailNth.Remaining = n;
        }
    }
}
