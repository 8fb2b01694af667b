using System.Runtime.CompilerServices;

namespace IommuFd.Native.Fork;

/// <summary>
/// Notices, at no syscall cost, that the engine is running in a child created by fork(): a
/// private page marked MADV_WIPEONFORK reads as zero in every child. Where the kernel lacks
/// MADV_WIPEONFORK (before 4.14) the pid is compared instead, one getpid() per call. No lock
/// anywhere: one held by a parent thread at fork time would never be released in the child.
/// </summary>
internal sealed unsafe class ForkGuard : IForkDetector
{
    private const int Armed = 1;
    private const int Rearming = 2;

    private readonly int* _flag;
    private int _pid;

    /// <summary>Fallback mode: the pid of the child whose first caller is starting its epoch, else 0.</summary>
    private int _claimed;

    public ForkGuard()
    {
        _pid = Libc.GetPid();
        var page = Libc.Mmap(0, 4096, Libc.ProtRead | Libc.ProtWrite, Libc.MapPrivate | Libc.MapAnonymous, -1, 0);
        if (page == Libc.MapFailed)
            return;
        if (Libc.Madvise(page, 4096, Libc.MadvWipeOnFork) != 0)
            return; // the page stays mapped, unused: the pid check takes over
        _flag = (int*)page;
        Volatile.Write(ref *_flag, Armed);
    }

    public bool InUnhandledChild
    {
        get
        {
            var flag = _flag;
            return flag is not null ? Volatile.Read(ref *flag) != Armed : Libc.GetPid() != Volatile.Read(ref _pid);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void CheckAndRearm(Action onFork)
    {
        var flag = _flag;
        if (flag is null || Volatile.Read(ref *flag) != Armed)
            Slow(onFork);
    }

    private void Slow(Action onFork)
    {
        var flag = _flag;
        if (flag is null)
        {
            SlowByPid(onFork);
            return;
        }
        if (Volatile.Read(ref *flag) == Armed)
            return;
        // Wiped: the first caller in the child claims the re-arm, any other waits for it.
        if (Interlocked.CompareExchange(ref *flag, Rearming, 0) == 0)
        {
            _pid = Libc.GetPid();
            onFork();
            Volatile.Write(ref *flag, Armed);
            return;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref *flag) != Armed)
            spin.SpinOnce();
    }

    private void SlowByPid(Action onFork)
    {
        var pid = Libc.GetPid();
        if (pid == Volatile.Read(ref _pid))
            return;
        if (Interlocked.CompareExchange(ref _claimed, pid, 0) == 0)
        {
            onFork();
            Volatile.Write(ref _pid, pid);
            Volatile.Write(ref _claimed, 0);
            return;
        }
        var wait = new SpinWait();
        while (Volatile.Read(ref _pid) != pid)
            wait.SpinOnce();
    }
}
