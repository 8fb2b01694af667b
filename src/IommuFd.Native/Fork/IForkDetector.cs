namespace IommuFd.Native.Fork;

/// <summary>Tells, cheaply, that this process is a child forked since the detector was last armed.</summary>
internal interface IForkDetector
{
    /// <summary>True in a forked child until its first call re-arms. Reads only.</summary>
    bool InUnhandledChild { get; }

    /// <summary>
    /// In a process forked since the last re-arm, runs <paramref name="onFork"/> exactly once
    /// before any caller of this method proceeds; otherwise returns at the cost of a load.
    /// </summary>
    void CheckAndRearm(Action onFork);
}
