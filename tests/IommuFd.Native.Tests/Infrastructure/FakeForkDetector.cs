using IommuFd.Native.Fork;

namespace IommuFd.Native.Tests.Infrastructure;

/// <summary>A fork detector a test forks by hand (<see cref="Fork"/>), with the real one's once-only rule.</summary>
internal sealed class FakeForkDetector : IForkDetector
{
    private int _state; // 0 armed, 1 forked, 2 re-arming

    public int Rearms { get; private set; }

    public void Fork() => Volatile.Write(ref _state, 1);

    public bool InUnhandledChild => Volatile.Read(ref _state) != 0;

    public void CheckAndRearm(Action onFork)
    {
        if (Volatile.Read(ref _state) == 0)
            return;
        if (Interlocked.CompareExchange(ref _state, 2, 1) == 1)
        {
            onFork();
            Rearms++;
            Volatile.Write(ref _state, 0);
            return;
        }
        var spin = new SpinWait();
        while (Volatile.Read(ref _state) != 0)
            spin.SpinOnce();
    }
}
