using IommuFd.Core.Drivers;
using IommuFd.Core.Objects;

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
}
