using System.Runtime.CompilerServices;
using IommuFd.Native.Fork;

namespace IommuFd.Native;

/// <summary>
/// Holds the route of the current process epoch. A fork starts a new epoch in the child: its
/// first call, before any other proceeds, replaces the route by the one the parent's route
/// chose for its children (<see cref="IEngineRoute.ForChild"/>); the parent keeps its route.
/// </summary>
internal sealed class EpochRouter
{
    private readonly IForkDetector _forks;
    private readonly Action _startChildEpoch;
    private volatile IEngineRoute _route;

    public EpochRouter(IForkDetector forks, IEngineRoute first)
    {
        _forks = forks;
        _route = first;
        _startChildEpoch = StartChildEpoch; // allocated here: the child must not allocate
    }

    /// <summary>The route for a call now: one load when nothing forked.</summary>
    public IEngineRoute Current
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            _forks.CheckAndRearm(_startChildEpoch);
            return _route;
        }
    }

    /// <summary>
    /// The route the fork handlers act on, or null in a child that has not called yet: its route
    /// is still the parent's, whose state (gate closed, locks held) belongs to the parent.
    /// </summary>
    public IEngineRoute? ForForkHandlers => _forks.InUnhandledChild ? null : _route;

    private void StartChildEpoch() => _route = _route.ForChild();
}
