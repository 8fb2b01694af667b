using System.Numerics;
using IommuFd.Core.Dma;
using IommuFd.Core.Domains;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// A <see cref="RadixPageTable{TCodec}"/> behind one lock, with its dirty-tracking switch: what every paging
/// domain over the radix table shares. The lock is needed because table slots are reused after a prune, so a
/// walk from another thread (DMA emulation) must not race a Map/Unmap and follow a stale pointer.
/// </summary>
public sealed class LockedPageTable<TCodec> where TCodec : struct, IPteCodec
{
    private readonly Lock _lock = new();
    private readonly RadixPageTable<TCodec> _table;
    private readonly DirtyOnWrite _dirtyOnWrite;
    private bool _dirtyTracking;

    /// <param name="canTrackDirty">Allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING: without it tracking cannot be switched on.</param>
    public LockedPageTable(RadixPageTable<TCodec> table, DirtyOnWrite dirtyOnWrite, bool canTrackDirty)
    {
        _table = table;
        _dirtyOnWrite = dirtyOnWrite;
        CanTrackDirty = canTrackDirty;
    }

    /// <summary>The table itself, unlocked: for tests and diagnostics that do not race Map/Unmap.</summary>
    public RadixPageTable<TCodec> Unlocked => _table;

    public ulong SmallestPage => _table.SmallestPage;

    /// <summary>Runs <paramref name="read"/> on the table under the lock.</summary>
    public T Read<T>(Func<RadixPageTable<TCodec>, T> read)
    {
        lock (_lock)
            return read(_table);
    }

    /// <summary>
    /// EINVAL: iova, user address or length not a multiple of the smallest page, or the range leaves
    /// <paramref name="aperture"/> (or wraps). EEXIST: part of it is already mapped. All or nothing.
    /// Length 0 is a successful no-op once the alignment check has passed (as in the kernel's iommu_map).
    /// </summary>
    public Errno Map(IovaRange aperture, ulong iova, ulong userAddress, ulong length, IoProt prot, ulong largestPage)
    {
        if (((iova | userAddress | length) & (_table.SmallestPage - 1)) != 0)
            return Errno.EINVAL;
        if (length == 0)
            return Errno.Ok;
        if (!IovaRange.TryFromLength(iova, length, out var range) || !aperture.Contains(range))
            return Errno.EINVAL;
        var rc = FailNth.Check(FaultSite.DomainMap);
        if (rc != Errno.Ok)
            return rc;
        lock (_lock)
            return _table.Map(iova, userAddress, length, prot, largestPage);
    }

    /// <summary>Unmaps what is mapped in the range; holes are skipped, leaves cut through are split.</summary>
    public void Unmap(ulong iova, ulong length)
    {
        lock (_lock)
            _table.Unmap(iova, length);
    }

    /// <summary>The output address <paramref name="iova"/> translates to and its permissions (None when unmapped).</summary>
    public ulong? Translate(ulong iova, out IoProt prot)
    {
        PageTranslation? t;
        lock (_lock)
            t = _table.Translate(iova);
        prot = t?.Prot ?? IoProt.None;
        return t?.OutputAddress;
    }

    /// <summary>
    /// A device's walk: the leaf for <paramref name="iova"/>, dirtiness recorded while tracking. A refused access
    /// still yields the leaf: the DMA layer checks the permissions and reports the fault.
    /// </summary>
    public bool Walk(ulong iova, DmaDirection direction, out DmaTranslation translation)
    {
        var write = direction == DmaDirection.Write;
        PageWalkStatus status;
        PageTranslation found;
        lock (_lock)
        {
            var inEntry = _dirtyTracking && _dirtyOnWrite == DirtyOnWrite.WalkedEntry;
            status = _table.TryTranslate(iova, write, inEntry, out found);
            if (status == PageWalkStatus.Translated && write && _dirtyTracking && _dirtyOnWrite == DirtyOnWrite.WholeLeafRun)
                _table.MarkDirty(iova);
        }
        if (status == PageWalkStatus.NotMapped)
        {
            translation = default;
            return false;
        }
        translation = new DmaTranslation(found.OutputAddress & ~(found.PageSize - 1), BitOperations.Log2(found.PageSize), found.Prot);
        return true;
    }

    public bool CanTrackDirty { get; }

    public bool DirtyTracking
    {
        get
        {
            lock (_lock)
                return _dirtyTracking;
        }
    }

    /// <summary>EOPNOTSUPP without <see cref="CanTrackDirty"/>. Turning tracking on starts from a clean slate: dirty state left from before is dropped.</summary>
    public Errno SetDirtyTracking(bool enable)
    {
        if (!CanTrackDirty)
            return Errno.EOPNOTSUPP;
        var discard = new DiscardDirty();
        lock (_lock)
        {
            if (enable)
                _table.ScanDirty(0, ulong.MaxValue, clear: true, ref discard);
            _dirtyTracking = enable;
        }
        return Errno.Ok;
    }

    public void ReadDirty<TSink>(ulong first, ulong last, bool clear, ref TSink sink) where TSink : struct, IDirtyLeafSink
    {
        lock (_lock)
            _table.ScanDirty(first, last, clear, ref sink);
    }

    /// <summary>Marks the leaf holding <paramref name="iova"/> dirty if tracking is on; false if not marked.</summary>
    public bool RecordWrite(ulong iova)
    {
        lock (_lock)
            return _dirtyTracking && _table.MarkDirty(iova);
    }

    /// <summary>A sink that forgets what it is told: clearing without reporting.</summary>
    private struct DiscardDirty : IDirtyLeafSink
    {
        public readonly void Dirty(ulong iova, ulong size)
        {
        }
    }
}
