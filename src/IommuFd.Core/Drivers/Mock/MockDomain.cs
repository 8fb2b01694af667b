using IommuFd.Core.Dma;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// The mock IOMMU's paging domain: a real radix page table (<see cref="RadixPageTable{TCodec}"/>)
/// whose output addresses are the user addresses it is given, since there is no physical memory.
/// The locking, translation and dirty switch are the <see cref="LockedPageTable{TCodec}"/> every radix-backed
/// domain shares. Dirty state is the AMD v1 D bit of its PTEs.
/// </summary>
public sealed class MockDomain : IDirtyTrackingDomain, IDmaTranslatable
{
    /// <summary>MOCK_PAGE_SIZE: the Default granule and smallest page.</summary>
    public const ulong PageSize = 2048;

    /// <summary>MOCK_HUGE_PAGE_SIZE.</summary>
    public const ulong HugePageSize = 512 * PageSize;

    /// <summary>MOCK_APERTURE_START / MOCK_APERTURE_LAST (the Default type only).</summary>
    public const ulong ApertureStart = 1UL << 24;
    public const ulong ApertureLast = (1UL << 31) - 1;

    private readonly LockedPageTable<AmdV1PteCodec> _table;

    /// <param name="canTrackDirty">Allocated with IOMMU_HWPT_ALLOC_DIRTY_TRACKING (the kernel gives such a domain dirty ops).</param>
    public MockDomain(MockPageTableType type, bool canTrackDirty = false)
    {
        Type = type;
        RadixPageTable<AmdV1PteCodec> table;
        switch (type)
        {
            case MockPageTableType.Default:
                table = new RadixPageTable<AmdV1PteCodec>(AmdV1Formats.Mock2K, AmdV1Formats.Mock2K.LeafSizes);
                Aperture = new IovaRange(ApertureStart, ApertureLast);
                break;
            case MockPageTableType.Huge:
                table = new RadixPageTable<AmdV1PteCodec>(AmdV1Formats.Mock2K, HugePageSize | CpuPage.Size);
                Aperture = new IovaRange(0, AmdV1Formats.Mock2K.InputLast);
                break;
            case MockPageTableType.AmdV1:
                table = new RadixPageTable<AmdV1PteCodec>(AmdV1Formats.Standard4K, AmdV1Formats.Standard4K.LeafSizes);
                Aperture = new IovaRange(0, AmdV1Formats.Standard4K.InputLast);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(type), type, "unknown mock page table type");
        }
        PageSizeBitmap = table.PageSizes;
        _table = new LockedPageTable<AmdV1PteCodec>(table, DirtyOnWrite.WholeLeafRun, canTrackDirty);
    }

    public MockPageTableType Type { get; }

    public IovaRange Aperture { get; }

    public ulong PageSizeBitmap { get; }

    /// <summary>The lowest page size: the alignment of every IOVA, address and length.</summary>
    public ulong SmallestPage => _table.SmallestPage;

    /// <summary>
    /// EINVAL: iova, user address or length not a multiple of the smallest page, or the range leaves the
    /// aperture (or wraps). EEXIST: part of it is already mapped. Length 0 is a successful no-op once
    /// the alignment check has passed (as in the kernel's iommu_map).
    /// </summary>
    public Errno Map(ulong iova, ulong userAddress, ulong length, IoProt prot, ulong largestPage = ulong.MaxValue) =>
        _table.Map(Aperture, iova, userAddress, length, prot, largestPage);

    /// <summary>Unmaps what is mapped in the range; holes are skipped, leaves cut through are split.</summary>
    public void Unmap(ulong iova, ulong length)
    {
        _table.Unmap(iova, length);
        // As the kernel flushes the IOTLB before UNMAP returns.
        CacheTag.InvalidateRange(iova, length);
    }

    public DmaCacheTag CacheTag { get; } = new();

    /// <summary>While tracking, a write walks again so it can set the leaf's D bit, as hardware does.</summary>
    public bool TracksDirty => DirtyTracking;

    public bool Walk(ulong iova, DmaDirection direction, out DmaTranslation translation) => _table.Walk(iova, direction, out translation);

    /// <summary>The output (user) address <paramref name="iova"/> translates to, or null when unmapped.</summary>
    public ulong? IovaToPhys(ulong iova) => Translate(iova, out _);

    /// <summary>Like <see cref="IovaToPhys"/>, also giving the leaf's permissions (None when unmapped).</summary>
    public ulong? Translate(ulong iova, out IoProt prot) => _table.Translate(iova, out prot);

    /// <summary>Tables allocated, the root included.</summary>
    public int TableCount => _table.Read(static t => t.TableCount);

    /// <summary>Leaves of <paramref name="pageSize"/> bytes currently present.</summary>
    public long LeafCount(ulong pageSize) => _table.Read(t => t.LeafCount(pageSize));

    /// <summary>Bytes of IOVA currently translated.</summary>
    public ulong MappedBytes => _table.Read(static t => t.MappedBytes);

    public bool CanTrackDirty => _table.CanTrackDirty;

    public bool DirtyTracking => _table.DirtyTracking;

    public Errno SetDirtyTracking(bool enable) => _table.SetDirtyTracking(enable);

    public void ReadDirty<TSink>(ulong first, ulong last, bool clear, ref TSink sink) where TSink : struct, IDirtyLeafSink =>
        _table.ReadDirty(first, last, clear, ref sink);

    public bool RecordWrite(ulong iova) => _table.RecordWrite(iova);

    /// <summary>The page table itself, for tests and diagnostics; callers must not race it with Map/Unmap.</summary>
    internal RadixPageTable<AmdV1PteCodec> PageTable => _table.Unlocked;
}
