using IommuFd.Core.Drivers;
using IommuFd.Core.Objects;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core.Devices;

/// <summary>
/// A device bound to a context (IOMMUFD_OBJ_DEVICE). Attaching captures all of its DMA (the whole
/// requester ID); PASID-level attachment would be a separate attachment keyed by PASID.
/// </summary>
public sealed class Device : IommufdObject
{
    public Device(IIommuDriver driver, DeviceGroup group, IReadOnlyList<IovaRange> reservedRegions, object? driverState = null)
    {
        Driver = driver;
        Group = group;
        ReservedRegions = reservedRegions;
        DriverState = driverState;
    }

    public override ObjectKind Kind => ObjectKind.Device;

    public IIommuDriver Driver { get; }

    public DeviceGroup Group { get; }

    /// <summary>IOVA the device cannot use for DMA (e.g. an MSI window): reserved in any IOAS it attaches to.</summary>
    public IReadOnlyList<IovaRange> ReservedRegions { get; }

    /// <summary>The driver's own per-device data.</summary>
    public object? DriverState { get; }

    /// <summary>The HWPT handling the device's requests without PASID, or null when blocked.</summary>
    public Hwpt? Attached { get; internal set; }

    public DeviceId TypedId => new(Id.Value);

    /// <summary>The device as a guest sees it behind a vIOMMU, or null. Guarded by the context's attach lock.</summary>
    public Vdevice? Vdevice { get; internal set; }

    /// <summary>A vDEVICE does not keep its device: it dies with it, leaving its ID as a tombstone.</summary>
    protected internal override void OnDestroy()
    {
        if (Vdevice is { } vdevice)
            vdevice.Viommu.Context.TombstoneVdevice(vdevice);
    }
}
