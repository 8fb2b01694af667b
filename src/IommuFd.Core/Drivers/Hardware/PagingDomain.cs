using IommuFd.Core.Dma;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Drivers.Hardware;

/// <summary>
/// A hardware IOMMU's paging domain: a <see cref="RadixPageTable{TCodec}"/> in the model's own format,
/// whose output addresses are the program's addresses. Device DMA walks the table; while dirty tracking is
/// on, a permitted write sets the leaf's dirty state the way the format encodes it (VT-d / AMD / x86 D bit,
/// ARM DBM writable-clean to writable-dirty), and reading dirty state scans and clears those same bits.
/// The lock, walk and dirty switch are the <see cref="LockedPageTable{TCodec}"/> it shares with the mock domain.
/// </summary>
public sealed class PagingDomain<TCodec> : IHardwarePagingDomain where TCodec : struct, IPteCodec
{
    private readonly LockedPageTable<TCodec> _table;

    /// <param name="aperture">What the hardware can translate: inside the format's input range.</param>
    /// <param name="pageSizes">The leaf sizes Map may use (a subset of the format's).</param>
    public PagingDomain(HardwareIommuDriver owner, PageTableFormat<TCodec> format, ulong pageSizes, IovaRange aperture, HwptAllocFlags flags)
    {
        if (aperture.Last > format.InputLast)
            throw new ArgumentException($"aperture {aperture} exceeds {format}", nameof(aperture));
        Owner = owner;
        _table = new LockedPageTable<TCodec>(new RadixPageTable<TCodec>(format, pageSizes), DirtyOnWrite.WalkedEntry, flags.HasFlag(HwptAllocFlags.DirtyTracking));
        Aperture = aperture;
        PageSizeBitmap = pageSizes;
        Flags = flags;
    }

    public HardwareIommuDriver Owner { get; }

    public string FormatName => _table.Unlocked.Format.Name;

    public HwptAllocFlags Flags { get; }

    public IovaRange Aperture { get; }

    public ulong PageSizeBitmap { get; }

    public DmaCacheTag CacheTag { get; } = new();

    /// <summary>The table's root as hardware would be given it (context / DTE / STE / CD).</summary>
    public ulong RootAddress => _table.Read(static t => t.RootAddress);

    /// <summary>EINVAL: unaligned to the smallest page, or outside the aperture; EEXIST: already mapped. All or nothing.</summary>
    public Errno Map(ulong iova, ulong userAddress, ulong length, IoProt prot, ulong largestPage = ulong.MaxValue) =>
        _table.Map(Aperture, iova, userAddress, length, prot, largestPage);

    public void Unmap(ulong iova, ulong length)
    {
        _table.Unmap(iova, length);
        // The kernel flushes the IOTLB before UNMAP returns.
        CacheTag.InvalidateRange(iova, length);
    }

    public bool TracksDirty => DirtyTracking;

    /// <summary>A walk as the hardware makes it: permissions checked, accessed/dirty written back while tracking.</summary>
    public bool Walk(ulong iova, DmaDirection direction, out DmaTranslation translation) => _table.Walk(iova, direction, out translation);

    /// <summary>The output address <paramref name="iova"/> translates to and its permissions (None when unmapped).</summary>
    public ulong? Translate(ulong iova, out IoProt prot) => _table.Translate(iova, out prot);

    /// <summary>
    /// The raw 64-bit entries a hardware walk for <paramref name="iova"/> reads, root first, ending on the leaf
    /// (or the empty entry that stops it). For tests and diagnostics that check the bits the model writes.
    /// </summary>
    public IReadOnlyList<ulong> WalkEntries(ulong iova) => _table.Read(table => EntriesOnWalk(table, iova));

    private static List<ulong> EntriesOnWalk(RadixPageTable<TCodec> pageTable, ulong iova)
    {
        var entries = new List<ulong>();
        var format = pageTable.Format;
        var codec = format.Codec;
        var table = pageTable.RootAddress;
        for (var level = pageTable.Levels - 1; level >= 0; level--)
        {
            var index = (int)((iova >> format.LevelShift(level)) & ((ulong)format.EntriesPerTable - 1));
            var pte = pageTable.ReadPte(table, index);
            entries.Add(pte);
            if (codec.Kind(pte, level) != PteKind.Table)
                break;
            table = codec.TableAddress(pte);
        }
        return entries;
    }

    public bool CanTrackDirty => _table.CanTrackDirty;

    public bool DirtyTracking => _table.DirtyTracking;

    public Errno SetDirtyTracking(bool enable) => _table.SetDirtyTracking(enable);

    public void ReadDirty<TSink>(ulong first, ulong last, bool clear, ref TSink sink) where TSink : struct, IDirtyLeafSink =>
        _table.ReadDirty(first, last, clear, ref sink);

    public bool RecordWrite(ulong iova) => _table.RecordWrite(iova);
}
