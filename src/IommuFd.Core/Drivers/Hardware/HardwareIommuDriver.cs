using IommuFd.Core.Devices;
using IommuFd.Core.Domains;
using IommuFd.Core.Machines;

namespace IommuFd.Core.Drivers.Hardware;

/// <summary>
/// What the intel-vtd, amd-vi and arm-smmuv3 drivers share: one driver per IOMMU instance, its abilities
/// from the machine description, paging domains in the model's formats, the reserved regions the kernel
/// reports for its devices, and attach compatibility. Each model decides its formats, its flag rules and
/// its GET_HW_INFO bytes.
/// </summary>
public abstract class HardwareIommuDriver : IIommuDriver
{
    /// <summary>IOMMU_HW_CAP_DIRTY_TRACKING in GET_HW_INFO's out_capabilities.</summary>
    public const ulong CapabilityDirtyTracking = 1UL << 0;

    protected HardwareIommuDriver(IommuDescription description)
    {
        Description = description;
    }

    public IommuDescription Description { get; }

    public string Name => Description.Id;

    /// <summary>IOVA every device behind this IOMMU may not use (the MSI window), reserved in any IOAS it joins.</summary>
    public abstract IReadOnlyList<IovaRange> ReservedRegions { get; }

    public bool SupportsDirtyTracking(Device device) => Description.DirtyTracking;

    public Errno AllocatePagingDomain(Device device, HwptAllocFlags flags, IDriverData? data, out IIoDomain domain)
    {
        domain = null!;
        // No model takes driver data for a paging domain (the kernel passes none to them).
        if (data is not null && data.Type != 0)
            return Errno.EOPNOTSUPP;
        var rc = CreatePagingDomain(flags, out var created);
        if (rc == Errno.Ok)
            domain = created;
        return rc;
    }

    /// <summary>The model's rules for the flags, then a domain in the format they select.</summary>
    protected abstract Errno CreatePagingDomain(HwptAllocFlags flags, out IHardwarePagingDomain domain);

    public virtual Errno AllocateNestedDomain(Device device, IIoDomain parent, HwptAllocFlags flags, IDriverData data, out INestedDomain domain)
    {
        domain = null!;
        return Errno.EOPNOTSUPP;
    }

    /// <summary>
    /// A paging domain of this model in a format and page sizes this IOMMU walks; a dirty-tracking domain only
    /// for a device whose IOMMU tracks dirty pages. EINVAL otherwise (the kernel's "incompatible").
    /// </summary>
    public Errno CheckAttach(Device device, IIommuDomain domain)
    {
        if (domain is INestedDomain nested)
            return CheckNestedAttach(device, nested);
        if (domain is not IHardwarePagingDomain paging)
            return Errno.EINVAL;
        if (ReferenceEquals(paging.Owner, this))
            return Errno.Ok;
        if (paging.Owner.Description.Model != Description.Model || !CanWalk(paging))
            return Errno.EINVAL;
        if (paging.CanTrackDirty && !Description.DirtyTracking)
            return Errno.EINVAL;
        return Errno.Ok;
    }

    /// <summary>Whether <paramref name="device"/> may use a nested domain: EINVAL unless the model builds them.</summary>
    protected virtual Errno CheckNestedAttach(Device device, INestedDomain domain) => Errno.EINVAL;

    /// <summary>Whether this IOMMU can walk another instance's domain (same format, page sizes it supports, aperture it covers).</summary>
    protected virtual bool CanWalk(IHardwarePagingDomain domain) =>
        (domain.PageSizeBitmap & ~Description.PageSizes) == 0 && domain.Aperture.Last <= AddressLast;

    public abstract Errno GetHwInfo(Device device, uint requestedType, out HwInfo info);

    /// <summary>The highest IOVA the address width reaches.</summary>
    protected ulong AddressLast => Description.AddressWidth >= 64 ? ulong.MaxValue : (1UL << Description.AddressWidth) - 1;

    /// <summary>out_max_pasid_log2: the PASID width of a PASID-capable device (every device of a model with PASID).</summary>
    protected byte MaxPasidLog2 => (byte)Description.PasidWidth;

    protected ulong Capabilities => Description.DirtyTracking ? CapabilityDirtyTracking : 0;

    /// <summary>A device behind this IOMMU in <paramref name="group"/>, with the model's reserved regions and <paramref name="extraReserved"/>.</summary>
    public Device CreateDevice(DeviceGroup group, IReadOnlyList<IovaRange> extraReserved) =>
        new(this, group, [.. ReservedRegions, .. extraReserved]);

    /// <summary>The driver for an IOMMU instance of <paramref name="description"/>'s model (the selftest model gets the mock).</summary>
    public static IIommuDriver For(IommuDescription description) => description.Model switch
    {
        IommuModel.IntelVtd => new IntelVtdDriver(description),
        IommuModel.AmdVi => new AmdViDriver(description),
        IommuModel.ArmSmmuV3 => new ArmSmmuV3Driver(description),
        _ => Mock.MockIommuDriver.Instance,
    };

    /// <summary>The x86 interrupt window 0xfee00000–0xfeefffff: writes there are MSIs, never DMA.</summary>
    public static readonly IovaRange X86MsiWindow = new(0xfee0_0000, 0xfeef_ffff);

    protected static ulong Bit(bool set, int position) => set ? 1UL << position : 0;
}
