using IommuFd.Core.Devices;
using IommuFd.Core.Drivers.PageTables;
using IommuFd.Core.Machines;

namespace IommuFd.Core.Drivers.Hardware;

/// <summary>
/// An AMD-Vi IOMMU as Linux v6.18 drives it. Paging domains are v1 host tables (levels from the address
/// width), or v2 tables (x86-64 4-level) when allocated with PASID; DIRTY_TRACKING and PASID together, and
/// NEST_PARENT, are refused (nesting is not in this kernel). The kernel's AMD driver has no hw_info callback,
/// so GET_HW_INFO reports type NONE with no data, only the generic capabilities. Reserved: the MSI window
/// and the HyperTransport range. Facts from the kernel's amd/iommu.c and iommufd/device.c; the code is ours.
/// </summary>
public sealed class AmdViDriver(IommuDescription description) : HardwareIommuDriver(description)
{
    /// <summary>IOMMU_HW_INFO_TYPE_NONE: what a driver without hw_info reports.</summary>
    public const uint HwInfoType = 0;

    /// <summary>HyperTransport's system-management and configuration window, never DMA.</summary>
    public static readonly IovaRange HyperTransportWindow = new(0xfd_0000_0000, 0xff_ffff_ffff);

    public override IReadOnlyList<IovaRange> ReservedRegions { get; } = [X86MsiWindow, HyperTransportWindow];

    protected override Errno CreatePagingDomain(HwptAllocFlags flags, out IHardwarePagingDomain domain)
    {
        domain = null!;
        switch (flags)
        {
            case HwptAllocFlags.None:
                break;
            case HwptAllocFlags.DirtyTracking when Description.DirtyTracking:
                break;
            case HwptAllocFlags.Pasid when Description.PasidWidth > 0:
                // A PASID-capable domain is a v2 table: the x86-64 first-stage format, lower canonical half.
                domain = new PagingDomain<X86FirstStagePteCodec>(this, X86FirstStage.FourLevel, Description.PageSizes & X86FirstStage.PageSizes,
                    new IovaRange(0, (1UL << (Math.Min(Description.AddressWidth, 48) - 1)) - 1), flags);
                return Errno.Ok;
            default:
                return Errno.EOPNOTSUPP;
        }
        var format = AmdV1Formats.Host(Description.AddressWidth);
        domain = new PagingDomain<AmdV1PteCodec>(this, format, Description.PageSizes & format.LeafSizes, new IovaRange(0, AddressLast), flags);
        return Errno.Ok;
    }

    /// <summary>The kernel ignores the requested type when the driver reports none.</summary>
    public override Errno GetHwInfo(Device device, uint requestedType, out HwInfo info)
    {
        info = new HwInfo(HwInfoType, [], Capabilities, MaxPasidLog2);
        return Errno.Ok;
    }
}
