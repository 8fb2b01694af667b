using IommuFd.Core.Dma;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Drivers.Hardware;

/// <summary>
/// A hardware IOMMU's paging domain: a <see cref="RadixPageTable{TCodec}"/> in the model's own format,
/// whose output addresses are the program's addresses. Device DMA walks the table; while dirty tracking is
/// on, a permitted write sets the leaf's dirty state the way the format encodes it (VT-d / AMD / x86 D bit,
/// ARM DBM writable-clean to writable-dirty), and reading dirty state scans and clears those same bits.
/// One lock guards the table: table slots are reused after a prune, so a walk must not race a Map/Unmap.
/// </summary>
public sealed class PagingDomain<TCodec> : IHardwarePagingDomain where TCodec : struct, IPteCodec
{
    private readonly Lock _lock = new();
    private readonly RadixPageTable<TCodec> _table;
    private bool _dirtyTracking;

    /// <param name="aperture">What the hardware can translate: inside the format's input range.</param>
    /// <param name="pageSizes">The leaf sizes Map may use (a subset of the format's).</param>
    public PagingDomain(HardwareIommuDriver owner, PageTableFormat<TCodec> format, ulong pageSizes, IovaRange aperture, HwptAllocFlags flags)
    {
        if (aperture.Last > format.InputLast)
            throw new ArgumentException($"aperture {aperture} exceeds {format}", nameof(aperture));
        Owner = owner;
        _table = new RadixPageTable<TCodec>(format, pageSizes);
        Aperture = aperture;
        PageSizeBitmap = pageSizes;
        Flags = flags;
    }

    public HardwareIommuDriver Owner { get; }

    public string FormatName => _table.Format.Name;

    public HwptAllocFlags Flags { get; }

    public IovaRange Aperture { get; }

    public ulong PageSizeBitmap { get; }

    public DmaCacheTag CacheTag { get; } = new();

    /// <summary>The table's root as hardware would be given it (context / DTE / STE / CD).</summary>
    public ulong RootAddress
    {
        get
        {
            lock (_lock)
                return _table.RootAddress;
        }
    }

    /// <summary>EINVAL: unaligned to the smallest page, or outside the aperture; EEXIST: already mapped. All or nothing.</summary>
    public Errno Map(ulong iova, ulong userAddress, ulong length, IoProt prot, ulong largestPage = ulong.MaxValue)
    {
        if (((iova | userAddress | length) & (_table.SmallestPage - 1)) != 0)
            return Errno.EINVAL;
        if (length == 0)
            return Errno.Ok;
        if (!IovaRange.TryFromLength(iova, length, out var range) || !Aperture.Contains(range))
            return Errno.EINVAL;
        lock (_lock)
            return _table.Map(iova, userAddress, length, prot, largestPage);
    }

    public void Unmap(ulong iova, ulong length)
    {
        lock (_lock)
            _table.Unmap(iova, length);
        // The kernel flushes the IOTLB before UNMAP returns.
        CacheTag.InvalidateRange(iova, length);
    }

    public bool TracksDirty => DirtyTracking;

    /// <summary>A walk as the hardware makes it: permissions checked, accessed/dirty written back while tracking.</summary>
    public bool Walk(ulong iova, DmaDirection direction, out DmaTranslation translation)
    {
        PageWalkStatus status;
        PageTranslation found;
        lock (_lock)
            status = _table.TryTranslate(iova, direction == DmaDirection.Write, _dirtyTracking, out found);
        if (status == PageWalkStatus.NotMapped)
        {
            translation = default;
            return false;
        }
        // A refused write still yields the leaf: the DMA layer checks the permissions and reports the fault.
        translation = new DmaTranslation(found.OutputAddress & ~(found.PageSize - 1), System.Numerics.BitOperations.Log2(found.PageSize), found.Prot);
        return true;
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
    /// The raw 64-bit entries a hardware walk for <paramref name="iova"/> reads, root first, ending on the leaf
    /// (or the empty entry that stops it). For tests and diagnostics that check the bits the model writes.
    /// </summary>
    public IReadOnlyList<ulong> WalkEntries(ulong iova)
    {
        var entries = new List<ulong>();
        lock (_lock)
        {
            var format = _table.Format;
            var codec = format.Codec;
            var table = _table.RootAddress;
            for (var level = _table.Levels - 1; level >= 0; level--)
            {
                var index = (int)((iova >> format.LevelShift(level)) & ((ulong)format.EntriesPerTable - 1));
                var pte = _table.ReadPte(table, index);
                entries.Add(pte);
                if (codec.Kind(pte, level) != PteKind.Table)
                    break;
                table = codec.TableAddress(pte);
            }
        }
        return entries;
    }

    public bool CanTrackDirty => Flags.HasFlag(HwptAllocFlags.DirtyTracking);

    public bool DirtyTracking
    {
        get
        {
            lock (_lock)
                return _dirtyTracking;
        }
    }

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

    public bool RecordWrite(ulong iova)
    {
        lock (_lock)
            return _dirtyTracking && _table.MarkDirty(iova);
    }

    private struct DiscardDirty : IDirtyLeafSink
    {
        public readonly void Dirty(ulong iova, ulong size)
        {
        }
    }
}
