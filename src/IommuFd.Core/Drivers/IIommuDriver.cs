using IommuFd.Core.Devices;
using IommuFd.Core.Domains;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core.Drivers;

/// <summary>
/// An IOMMU driver as iommufd sees it: it makes paging domains for the devices it translates,
/// says whether a device can use an existing domain, and reports hardware information.
/// </summary>
public interface IIommuDriver
{
    string Name { get; }

    /// <summary>Whether the hardware behind <paramref name="device"/> can track dirty pages.</summary>
    bool SupportsDirtyTracking(Device device);

    /// <summary>
    /// Allocates a paging domain for <paramref name="device"/>; <paramref name="data"/> carries
    /// driver-specific parameters (null for the driver's defaults).
    /// </summary>
    Errno AllocatePagingDomain(Device device, HwptAllocFlags flags, IDriverData? data, out IIoDomain domain);

    /// <summary>
    /// Allocates a nested (stage-1) domain over <paramref name="parent"/>, described by
    /// <paramref name="data"/>. EOPNOTSUPP when the driver has no nesting or not this data type.
    /// </summary>
    Errno AllocateNestedDomain(Device device, IIoDomain parent, HwptAllocFlags flags, IDriverData data, out INestedDomain domain);

    /// <summary>Whether <paramref name="device"/> may attach to <paramref name="domain"/>: EINVAL means incompatible.</summary>
    Errno CheckAttach(Device device, IIommuDomain domain);

    /// <summary>Hardware information (IOMMU_GET_HW_INFO). EOPNOTSUPP for a type the driver does not report.</summary>
    Errno GetHwInfo(Device device, uint requestedType, out HwInfo info);

    /// <summary>
    /// Points <paramref name="pasid"/> of <paramref name="device"/> at <paramref name="domain"/>
    /// (null: blocked, on detach), replacing what it pointed at; the iommufd rules were checked
    /// already. A failure leaves the old domain in place. Drivers without per-PASID state accept.
    /// </summary>
    Errno SetPasidDomain(Device device, uint pasid, IIommuDomain? domain) => Errno.Ok;

    /// <summary>The driver's vIOMMU support, or null when it offers none.</summary>
    IViommuDriver? Viommu => null;
}
