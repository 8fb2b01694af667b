namespace IommuFd.Core.Memory;

/// <summary>
/// Per-page pin counts of a user address space kept as disjoint runs, so pinning a 16 GiB range
/// is one entry, not four million. Thread-safe; leaf lock (nothing is taken while holding it).
/// </summary>
public sealed class PinLedger
{
    private readonly Lock _lock = new();
    private readonly Collections.RangeCounter _counts = new();

    public void Pin(ulong pageAddress, ulong pageCount)
    {
        if (pageCount == 0)
            return;
        lock (_lock)
            _counts.Add(CpuPage.Index(pageAddress), CpuPage.Index(pageAddress) + pageCount - 1);
    }

    public void Unpin(ulong pageAddress, ulong pageCount)
    {
        if (pageCount == 0)
            return;
        lock (_lock)
            _counts.Remove(CpuPage.Index(pageAddress), CpuPage.Index(pageAddress) + pageCount - 1);
    }

    public ulong PinCount(ulong address)
    {
        lock (_lock)
            return _counts.Get(CpuPage.Index(address));
    }

    /// <summary>Total pinned pages (each page once, whatever its count).</summary>
    public ulong PinnedPages
    {
        get
        {
            lock (_lock)
                return _counts.CoveredCount;
        }
    }
}
