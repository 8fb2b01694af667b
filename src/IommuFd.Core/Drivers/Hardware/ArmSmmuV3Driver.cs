using System.Buffers.Binary;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers.PageTables;
using IommuFd.Core.Machines;

namespace IommuFd.Core.Drivers.Hardware;

/// <summary>
/// An Arm SMMUv3.2. Paging domains are VMSAv8-64 stage-1 tables (stage 2 for NEST_PARENT), with the smallest
/// granule the description allows and the input size of its address width; a DIRTY_TRACKING domain writes DBM
/// into its writable leaves so device writes turn them writable-dirty (HTTU). Reserved: the software MSI window
/// Linux reserves for ARM (0x8000000, 1 MiB). GET_HW_INFO reports struct iommu_hw_info_arm_smmuv3 with IDR0–5,
/// IIDR and AIDR as the registers would read. Facts from the SMMUv3 specification and the kernel's
/// arm-smmu-v3.h / arm-smmu-v3-iommufd.c / iommufd.h; the code is ours.
/// </summary>
public sealed class ArmSmmuV3Driver(IommuDescription description) : HardwareIommuDriver(description)
{
    /// <summary>IOMMU_HW_INFO_TYPE_ARM_SMMUV3.</summary>
    public const uint HwInfoType = 2;

    /// <summary>sizeof(struct iommu_hw_info_arm_smmuv3): flags, reserved, idr[6], iidr, aidr.</summary>
    public const int HwInfoLength = 40;

    /// <summary>MSI_IOVA_BASE / MSI_IOVA_LENGTH: where Linux maps the doorbell for a device's MSIs.</summary>
    public static readonly IovaRange SoftwareMsiWindow = new(0x800_0000, 0x80f_ffff);

    public override IReadOnlyList<IovaRange> ReservedRegions { get; } = [SoftwareMsiWindow];

    /// <summary>The translation granule: the smallest of 4, 16 and 64 KiB the description's page sizes include.</summary>
    public int GranuleShift => (Description.PageSizes & (1UL << 12)) != 0 ? 12 : (Description.PageSizes & (1UL << 14)) != 0 ? 14 : 16;

    protected override Errno CreatePagingDomain(HwptAllocFlags flags, out IHardwarePagingDomain domain)
    {
        domain = null!;
        int stage;
        switch (flags)
        {
            case HwptAllocFlags.None:
            case HwptAllocFlags.Pasid when Description.PasidWidth > 0:
                stage = 1;
                break;
            case HwptAllocFlags.NestParent when Description.Nesting:
                stage = 2;
                break;
            case HwptAllocFlags.DirtyTracking when Description.DirtyTracking:
            case HwptAllocFlags.DirtyTracking | HwptAllocFlags.Pasid when Description.DirtyTracking && Description.PasidWidth > 0:
                stage = 1;
                break;
            default:
                return Errno.EOPNOTSUPP;
        }
        var format = ArmLpae.Create(stage, GranuleShift, Description.AddressWidth, hardwareDirty: flags.HasFlag(HwptAllocFlags.DirtyTracking));
        domain = new PagingDomain<ArmLpaePteCodec>(this, format, Description.PageSizes & format.LeafSizes, new IovaRange(0, AddressLast), flags);
        return Errno.Ok;
    }

    public override Errno GetHwInfo(Device device, uint requestedType, out HwInfo info)
    {
        info = null!;
        if (requestedType != 0 && requestedType != HwInfoType)
            return Errno.EOPNOTSUPP;
        var data = new byte[HwInfoLength];
        var idr = Idr;
        for (var i = 0; i < idr.Length; i++)
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(8 + 4 * i), idr[i]);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(32), Iidr);
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(36), Aidr);
        info = new HwInfo(HwInfoType, data, Capabilities, MaxPasidLog2);
        return Errno.Ok;
    }

    /// <summary>
    /// IDR0: two-level stream table, little-endian AArch64 tables, coherent walks, 16-bit ASIDs and VMIDs,
    /// MSIs, ATS; stage 1 always, stage 2 with nesting; HTTU access+dirty when tracking dirty pages, else
    /// access only; PRI and stalls with page requests; two-level context descriptors with PASIDs.
    /// IDR1: 16-bit stream IDs, SSIDSIZE = PASID width, 2^8-entry queues. IDR3: range invalidation.
    /// IDR5: the output size (48 bits) and the granules the page sizes use.
    /// </summary>
    public uint[] Idr
    {
        get
        {
            var d = Description;
            var pri = d.Pri;
            var idr0 = (d.Nesting ? 1u : 0) // stage 2
                | 1u << 1 // stage 1
                | 2u << 2 // AArch64 tables
                | 1u << 4 // coherent access
                | (d.DirtyTracking ? 2u : 1u) << 6
                | 1u << 10 | 1u << 12 | 1u << 13
                | (pri ? 1u << 16 : 0)
                | 1u << 18
                | (d.PasidWidth > 0 ? 1u << 19 : 0)
                | 2u << 21 // little-endian tables
                | (pri ? 0u : 1u) << 24 // stall model: stalls supported with page requests, else none
                | 1u << 27; // two-level stream table
            var idr1 = 16u | (uint)d.PasidWidth << 6 | 8u << 11 | 8u << 16 | 8u << 21;
            var idr3 = 1u << 10;
            var granules = (d.PageSizes & (1UL << 12 | 1UL << 21 | 1UL << 30)) != 0 ? 1u << 4 : 0;
            granules |= (d.PageSizes & (1UL << 14 | 1UL << 25)) != 0 ? 1u << 5 : 0;
            granules |= (d.PageSizes & (1UL << 16 | 1UL << 29)) != 0 ? 1u << 6 : 0;
            var idr5 = 5u | granules | (pri ? 32u << 16 : 0);
            return [idr0, idr1, 0, idr3, 0, idr5];
        }
    }

    /// <summary>IIDR: implementer Arm (JEP106 0x43b), product 0, variant 0, revision 0.</summary>
    public uint Iidr => 0x43b;

    /// <summary>AIDR: architecture revision SMMUv3.2 (major 0 = v3, minor 2).</summary>
    public uint Aidr => 0x02;
}
