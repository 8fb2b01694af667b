using System.Buffers.Binary;
using IommuFd.Core.Dma;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Drivers.Hardware;

/// <summary>
/// A VT-d nested domain (IOMMU_HWPT_DATA_VTD_S1): the program's x86-64 first-stage table at
/// <see cref="TableAddress"/>, a stage-2 input address, over a NEST_PARENT second-stage domain. The walk
/// reads every entry where hardware reads it, through stage 2 into the program's memory, so the program
/// edits its table in place; devices see an edit only once IOMMU_HWPT_INVALIDATE (VTD_S1 requests) drops
/// what the IOTLB cached. Stage 1 serves requests without PASID. Facts (struct layouts, flags, errnos)
/// from the kernel's iommufd.h and intel/nested.c, bits from the VT-d specification; the code is ours.
/// </summary>
public sealed class VtdNestedDomain : INestedDomain, IDmaNestedTranslatable
{
    /// <summary>IOMMU_HWPT_DATA_VTD_S1.</summary>
    public const uint DataType = 1;

    /// <summary>sizeof(struct iommu_hwpt_vtd_s1): flags, pgtbl_addr, addr_width, __reserved.</summary>
    public const int DataLength = 24;

    /// <summary>IOMMU_VTD_S1_SRE, _EAFE, _WPE: supervisor requests, extended accessed flag, write protect.</summary>
    public const ulong FlagSre = 1 << 0, FlagEafe = 1 << 1, FlagWpe = 1 << 2;

    /// <summary>IOMMU_HWPT_INVALIDATE_DATA_VTD_S1.</summary>
    public const uint InvalidateDataType = 0;

    /// <summary>sizeof(struct iommu_hwpt_vtd_s1_invalidate): addr, npages, flags, __reserved.</summary>
    public const int InvalidateLength = 24;

    /// <summary>IOMMU_VTD_INV_FLAGS_LEAF: only leaf entries changed (a hint; the flush is the same here).</summary>
    public const uint InvalidateLeaf = 1 << 0;

    private const int PageShift = 12;

    private VtdNestedDomain(IHardwarePagingDomain parent, ulong flags, ulong tableAddress, int addressWidth)
    {
        Parent = parent;
        Flags = flags;
        TableAddress = tableAddress;
        AddressWidth = addressWidth;
    }

    public IHardwarePagingDomain Parent { get; }

    public ulong Flags { get; }

    /// <summary>pgtbl_addr: the first-stage root, a stage-2 input address.</summary>
    public ulong TableAddress { get; }

    /// <summary>48 (4-level) or 57 (5-level).</summary>
    public int AddressWidth { get; }

    public DmaCacheTag CacheTag { get; } = new();

    public IDmaTranslatable StageTwo => Parent;

    /// <summary>
    /// Reads struct iommu_hwpt_vtd_s1 as iommu_copy_struct_from_user does: shorter than the struct EINVAL, a
    /// longer one with non-zero bytes past it E2BIG, unreadable EFAULT. Its fields are checked at attach.
    /// </summary>
    internal static Errno Create(IHardwarePagingDomain parent, IDriverData data, out VtdNestedDomain domain)
    {
        domain = null!;
        if (data.Length < DataLength)
            return Errno.EINVAL;
        if (data.Length > CpuPage.Size)
            return Errno.E2BIG;
        var bytes = new byte[data.Length];
        var rc = data.CopyTo(bytes);
        if (rc != Errno.Ok)
            return rc;
        if (bytes.AsSpan(DataLength).ContainsAnyExcept((byte)0))
            return Errno.E2BIG;
        var flags = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        var table = BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(8));
        var width = (int)BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(16));
        domain = new VtdNestedDomain(parent, flags, table, width);
        return Errno.Ok;
    }

    /// <summary>
    /// What the PASID-entry setup refuses (EINVAL): flags the unit lacks (it advertises neither supervisor
    /// requests nor extended accessed flags), an address width other than 48, or 57 without 5-level paging,
    /// an unaligned table, a non-zero reserved word.
    /// </summary>
    internal Errno CheckFor(IntelVtdDriver driver)
    {
        if ((Flags & ~FlagWpe) != 0)
            return Errno.EINVAL;
        if (AddressWidth != 48 && !(AddressWidth == 57 && driver.Description.AddressWidth > 48))
            return Errno.EINVAL;
        return (TableAddress & ((1UL << PageShift) - 1)) != 0 ? Errno.EINVAL : Errno.Ok;
    }

    /// <summary>The first-stage walk: every table entry read at its stage-2 input address; the lower canonical half only.</summary>
    public StageOneWalk WalkStageOne(uint pasid, ulong iova, DmaDirection direction, IStageOneTables tables, out DmaTranslation translation)
    {
        translation = default;
        if (pasid != Iotlb.NoPasid)
            return StageOneWalk.NoContext;
        if (iova >> (AddressWidth - 1) != 0)
            return StageOneWalk.NotMapped;
        var codec = default(X86FirstStagePteCodec);
        var table = TableAddress;
        for (var level = AddressWidth == 57 ? 4 : 3; level >= 0; level--)
        {
            var index = (iova >> (PageShift + 9 * level)) & 511;
            if (!tables.TryReadEntry(table + index * 8, out var pte))
                return StageOneWalk.TableNotMapped;
            switch (codec.Kind(pte, level))
            {
                case PteKind.Empty:
                    return StageOneWalk.NotMapped;
                case PteKind.Table:
                    table = codec.TableAddress(pte);
                    break;
                default:
                    var leaf = codec.DecodeLeaf(pte, level);
                    translation = new DmaTranslation(leaf.OutputAddress & ~((1UL << leaf.SizeLog2) - 1), leaf.SizeLog2, leaf.Prot);
                    return StageOneWalk.Ok;
            }
        }
        return StageOneWalk.NotMapped;
    }

    /// <summary>
    /// IOMMU_HWPT_INVALIDATE with VTD_S1 requests, in order: another data type EINVAL; unknown flags or a
    /// non-zero reserved word EOPNOTSUPP; an address not 4 KiB aligned, or npages U64_MAX with a non-zero
    /// address, EINVAL. npages U64_MAX (address 0) drops everything cached through this domain.
    /// </summary>
    public Errno Invalidate(IDriverArray requests, out uint handled)
    {
        handled = 0;
        if (requests.Type != InvalidateDataType)
            return Errno.EINVAL;
        Span<byte> entry = stackalloc byte[InvalidateLength];
        for (var i = 0u; i < requests.Count; i++)
        {
            var rc = requests.CopyEntry(i, entry, InvalidateLength);
            if (rc != Errno.Ok)
                return rc;
            var address = BinaryPrimitives.ReadUInt64LittleEndian(entry);
            var pages = BinaryPrimitives.ReadUInt64LittleEndian(entry[8..]);
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(entry[16..]);
            if ((flags & ~InvalidateLeaf) != 0 || BinaryPrimitives.ReadUInt32LittleEndian(entry[20..]) != 0)
                return Errno.EOPNOTSUPP;
            if ((address & ((1UL << PageShift) - 1)) != 0 || (pages == ulong.MaxValue && address != 0))
                return Errno.EINVAL;
            if (pages == ulong.MaxValue)
                CacheTag.InvalidateAll();
            else if (pages != 0)
            {
                var span = pages > (ulong.MaxValue >> PageShift) ? ulong.MaxValue : (pages << PageShift) - 1;
                CacheTag.InvalidateStageOne(Iotlb.NoPasid, address, address + Math.Min(span, ulong.MaxValue - address));
            }
            handled++;
        }
        return Errno.Ok;
    }
}
