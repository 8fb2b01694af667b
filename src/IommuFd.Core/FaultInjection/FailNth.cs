using System.Runtime.CompilerServices;

namespace IommuFd.Core.FaultInjection;

/// <summary>
/// "Fail the Nth fault site this thread reaches", as the kernel's <c>/proc/self/task/TID/fail-nth</c>:
/// set <see cref="Remaining"/> to N (N ≥ 1; 0 is off) and every fault site the calling thread reaches
/// counts it down; the one where it reaches zero fails (once), so reading it back afterwards gives 0.
/// A sequence that never reaches N leaves the rest (N minus the sites reached) to read back.
/// Per thread: engine work runs on the calling thread, so one thread's setting never fails another's
/// call. Off (the usual case) costs one thread-static read per site.
/// </summary>
public static class FailNth
{
    [ThreadStatic]
    private static int t_remaining;

    [ThreadStatic]
    private static InjectedFault? t_last;

    /// <summary>This thread's countdown: N to fail the Nth site from now on, 0 (off) once injected.</summary>
    public static int Remaining
    {
        get => t_remaining;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            t_remaining = value;
        }
    }

    /// <summary>The last fault injected on this thread (null before any): its kind and where in the engine.</summary>
    public static InjectedFault? LastInjected => t_last;

    /// <summary>Forgets <see cref="LastInjected"/> (so a caller can tell whether the next sequence injected anything).</summary>
    public static void ClearLastInjected() => t_last = null;

    /// <summary>
    /// A fault site: Ok, or the site's errno when this is the site the countdown chose. The caller
    /// must then unwind exactly as for a real failure of the same step.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Errno Check(FaultSite site, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        t_remaining == 0 ? Errno.Ok : CountDown(site, member, file, line);

    /// <summary>As <see cref="Check"/>, for sites that only need to know whether to fail.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool ShouldFail(FaultSite site, [CallerMemberName] string member = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0) =>
        t_remaining != 0 && CountDown(site, member, file, line) != Errno.Ok;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Errno CountDown(FaultSite site, string member, string file, int line)
    {
        if (--t_remaining != 0)
            return Errno.Ok;
        t_last = new InjectedFault(site, member, Path.GetFileName(file), line);
        return FaultSites.ErrnoOf(site);
    }
}

/// <summary>One injected failure: the kind of site and its place in the engine's source.</summary>
public sealed record InjectedFault(FaultSite Site, string Member, string File, int Line)
{
    public Errno Errno => FaultSites.ErrnoOf(Site);

    public override string ToString() => $"{Site} at {File}:{Line} ({Member})";
}
