namespace IommuFd.Core.AddressSpace;

/// <summary>
/// The ranges an ALLOW_IOVAS call asks for, checked as they arrive: each needs start &lt; last and
/// may not overlap one already given (EINVAL). Kept sorted by start. The one place that rule lives.
/// </summary>
public sealed class AllowedRangeSet
{
    private readonly List<IovaRange> _sorted = [];

    public IReadOnlyList<IovaRange> Ranges => _sorted;

    /// <summary>Adds <paramref name="range"/>, or refuses it (EINVAL) leaving the set as it was.</summary>
    public Errno Add(IovaRange range)
    {
        if (range.Start >= range.Last)
            return Errno.EINVAL;
        var at = _sorted.BinarySearch(range, StartOrder.Instance);
        if (at < 0)
            at = ~at;
        if ((at > 0 && _sorted[at - 1].Intersects(range)) || (at < _sorted.Count && _sorted[at].Intersects(range)))
            return Errno.EINVAL;
        _sorted.Insert(at, range);
        return Errno.Ok;
    }

    private sealed class StartOrder : IComparer<IovaRange>
    {
        public static readonly StartOrder Instance = new();

        public int Compare(IovaRange x, IovaRange y) => x.Start.CompareTo(y.Start);
    }
}
