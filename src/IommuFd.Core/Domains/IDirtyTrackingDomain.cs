using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Domains;

/// <summary>
/// A paging domain whose hardware records device writes in its page-table entries (the kernel's
/// iommu_dirty_ops). The dirty state lives only in the PTEs: reading it walks the table.
/// </summary>
public interface IDirtyTrackingDomain : IIoDomain
{
    /// <summary>Whether the domain was allocated to track dirty pages; one that was not refuses every call (EOPNOTSUPP).</summary>
    bool CanTrackDirty { get; }

    /// <summary>Whether device writes currently set dirty bits.</summary>
    bool DirtyTracking { get; }

    /// <summary>
    /// Turns tracking on or off. Turning it on first clears every dirty bit, so tracking starts
    /// from a clean snapshot. EOPNOTSUPP when the domain cannot track.
    /// </summary>
    Errno SetDirtyTracking(bool enable);

    /// <summary>
    /// Reports each dirty leaf meeting [first, last], whole, in IOVA order, and clears its dirty bit
    /// unless <paramref name="clear"/> is false.
    /// </summary>
    void ReadDirty<TSink>(ulong first, ulong last, bool clear, ref TSink sink) where TSink : struct, IDirtyLeafSink;

    /// <summary>
    /// What a device write through <paramref name="iova"/> does to the table: marks its leaf dirty,
    /// if tracking is on and something is mapped there. Returns whether a bit was set.
    /// </summary>
    bool RecordWrite(ulong iova);
}
