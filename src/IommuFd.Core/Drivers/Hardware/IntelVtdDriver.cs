using System.Buffers.Binary;
using IommuFd.Core.Devices;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers.PageTables;
using IommuFd.Core.Machines;

namespace IommuFd.Core.Drivers.Hardware;

/// <summary>
/// An Intel VT-d remapping unit in scalable mode. A paging domain with no flags but PASID is a first-stage
/// (x86-64) table, as Linux prefers; NEST_PARENT or DIRTY_TRACKING need the second stage, whose levels follow
/// the address width (39/48/57 bits: SAGAW 3/4/5 levels). GET_HW_INFO reports struct iommu_hw_info_vtd with
/// CAP_REG / ECAP_REG built from the abilities the description gives. Facts (register bits, uAPI layout,
/// flag rules) from the VT-d specification and the kernel's intel/iommu.h and iommufd.h; the code is ours.
/// </summary>
public sealed class IntelVtdDriver(IommuDescription description) : HardwareIommuDriver(description)
{
    /// <summary>IOMMU_HW_INFO_TYPE_INTEL_VTD.</summary>
    public const uint HwInfoType = 1;

    /// <summary>sizeof(struct iommu_hw_info_vtd): flags, reserved, cap_reg, ecap_reg.</summary>
    public const int HwInfoLength = 24;

    public override IReadOnlyList<IovaRange> ReservedRegions { get; } = [X86MsiWindow];

    protected override Errno CreatePagingDomain(HwptAllocFlags flags, out IHardwarePagingDomain domain)
    {
        domain = null!;
        const HwptAllocFlags supported = HwptAllocFlags.NestParent | HwptAllocFlags.DirtyTracking | HwptAllocFlags.Pasid;
        if ((flags & ~supported) != 0 || (flags.HasFlag(HwptAllocFlags.Pasid) && Description.PasidWidth == 0))
            return Errno.EOPNOTSUPP;
        if ((flags & ~HwptAllocFlags.Pasid) == 0)
        {
            domain = FirstStageDomain(flags);
            return Errno.Ok;
        }
        if (flags.HasFlag(HwptAllocFlags.NestParent) && !Description.Nesting)
            return Errno.EOPNOTSUPP;
        if (flags.HasFlag(HwptAllocFlags.DirtyTracking) && !Description.DirtyTracking)
            return Errno.EOPNOTSUPP;
        var format = VtdSecondStage.ForAddressWidth(Description.AddressWidth);
        domain = new PagingDomain<VtdSecondStagePteCodec>(this, format, Description.PageSizes & VtdSecondStage.PageSizes,
            new IovaRange(0, AddressLast), flags);
        return Errno.Ok;
    }

    /// <summary>4-level unless the unit walks 57 bits (CAP_REG.FL5LP); the aperture is the lower canonical half.</summary>
    private PagingDomain<X86FirstStagePteCodec> FirstStageDomain(HwptAllocFlags flags)
    {
        var fiveLevel = Description.AddressWidth > 48;
        var format = fiveLevel ? X86FirstStage.FiveLevel : X86FirstStage.FourLevel;
        var last = (1UL << (Math.Min(Description.AddressWidth, fiveLevel ? 57 : 48) - 1)) - 1;
        return new PagingDomain<X86FirstStagePteCodec>(this, format, Description.PageSizes & X86FirstStage.PageSizes, new IovaRange(0, last), flags);
    }

    /// <summary>
    /// A VT-d stage-1 domain over a NEST_PARENT second stage, in the kernel's order: no nesting or flags
    /// other than PASID EOPNOTSUPP; data other than VTD_S1 EOPNOTSUPP; a parent that is not this model's
    /// nest parent EINVAL; then the struct copy (<see cref="VtdNestedDomain"/>).
    /// </summary>
    public override Errno AllocateNestedDomain(Device device, IIoDomain parent, HwptAllocFlags flags, IDriverData data, out INestedDomain domain)
    {
        domain = null!;
        if (!Description.Nesting || (flags & ~HwptAllocFlags.Pasid) != 0)
            return Errno.EOPNOTSUPP;
        if (data.Type != VtdNestedDomain.DataType)
            return Errno.EOPNOTSUPP;
        if (parent is not PagingDomain<VtdSecondStagePteCodec> stageTwo || !stageTwo.Flags.HasFlag(HwptAllocFlags.NestParent))
            return Errno.EINVAL;
        var rc = VtdNestedDomain.Create(stageTwo, data, out var nested);
        if (rc == Errno.Ok)
            domain = nested;
        return rc;
    }

    protected override Errno CheckNestedAttach(Device device, INestedDomain domain)
    {
        if (domain is not VtdNestedDomain nested)
            return Errno.EINVAL;
        var rc = CheckAttach(device, nested.Parent);
        return rc != Errno.Ok ? rc : nested.CheckFor(this);
    }

    public override Errno GetHwInfo(Device device, uint requestedType, out HwInfo info)
    {
        info = null!;
        if (requestedType != 0 && requestedType != HwInfoType)
            return Errno.EOPNOTSUPP;
        var data = new byte[HwInfoLength];
        // flags (no errata) and __reserved stay 0.
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(8), CapReg);
        BinaryPrimitives.WriteUInt64LittleEndian(data.AsSpan(16), ExtendedCapReg);
        info = new HwInfo(HwInfoType, data, Capabilities, MaxPasidLog2);
        return Errno.Ok;
    }

    /// <summary>
    /// CAP_REG: 16-bit domain IDs (ND=6), SAGAW for every level count up to the width, MGAW = width - 1,
    /// second-stage large pages (SLLPS: 2 MiB, 1 GiB), 8 fault records at 0x400, page-selective
    /// invalidation, first-stage 1 GiB pages and 5-level paging when the width and page sizes have them.
    /// </summary>
    public ulong CapReg
    {
        get
        {
            var width = Description.AddressWidth;
            var sagaw = 0b0010UL | (width >= 48 ? 0b0100UL : 0) | (width >= 57 ? 0b1000UL : 0);
            var large2M = (Description.PageSizes & (1UL << 21)) != 0;
            var large1G = (Description.PageSizes & (1UL << 30)) != 0;
            return 6UL
                | sagaw << 8
                | (ulong)(width - 1) << 16
                | 0x40UL << 24 // fault recording registers at 0x400
                | Bit(large2M, 34) | Bit(large2M && large1G, 35)
                | 1UL << 39 // page-selective invalidation
                | 7UL << 40 // eight fault recording registers
                | 18UL << 48 // address-mask maximum
                | 1UL << 54 | 1UL << 55 // write and read draining
                | Bit(large1G, 56)
                | Bit(width > 48, 60);
        }
    }

    /// <summary>
    /// ECAP_REG: queued invalidation, device TLBs, interrupt remapping (x2APIC), pass-through, snoop control,
    /// IOTLB registers at 0x500, scalable mode with first- and second-stage translation, nesting, page
    /// requests, PASIDs (PSS = width - 1), and second-stage accessed/dirty bits when the model tracks dirty pages.
    /// </summary>
    public ulong ExtendedCapReg
    {
        get
        {
            var pasid = Description.PasidWidth > 0;
            return 1UL << 1 | 1UL << 2 | 1UL << 3 | 1UL << 4 | 1UL << 6 | 1UL << 7
                | 0x50UL << 8 // IOTLB registers at 0x500
                | 15UL << 20 // interrupt handle mask maximum
                | Bit(Description.Nesting, 26)
                | Bit(Description.Pri, 29)
                | 1UL << 33 // no-write flag
                | (pasid ? (ulong)(Description.PasidWidth - 1) << 35 : 0)
                | Bit(pasid, 40)
                | Bit(Description.Pri, 42)
                | 1UL << 43 // scalable mode
                | Bit(Description.DirtyTracking, 45)
                | 1UL << 46 | 1UL << 47 // second- and first-stage translation
                | 1UL << 48 // coherent page walks
                | Bit(pasid, 49);
        }
    }
}
