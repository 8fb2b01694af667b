using IommuFd.Core.Devices;
using IommuFd.Core.Drivers.Hardware;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Pci;

namespace IommuFd.Core.Machines;

/// <summary>A device of a running machine: where it sits, its IOMMU, and its group (shared with the group's other devices).</summary>
public sealed class MachineDevice
{
    internal MachineDevice(DeviceDescription description, IommuInstance iommu, DeviceGroup group)
    {
        Description = description;
        Iommu = iommu;
        Group = group;
    }

    /// <summary>The device's entry in the machine description.</summary>
    public DeviceDescription Description { get; }

    /// <summary>The IOMMU the device sits behind.</summary>
    public IommuInstance Iommu { get; }

    /// <summary>The device's group, shared with the group's other devices.</summary>
    public DeviceGroup Group { get; }

    /// <summary>
    /// A new device object for binding to a context (IOMMUFD_OBJ_DEVICE), in the machine's group,
    /// with the reserved regions its IOMMU model reports and the description's extra ones. The mock
    /// driver gets its per-device state from the IOMMU's abilities.
    /// </summary>
    public Device CreateDevice()
    {
        var driver = Iommu.Driver;
        if (driver is HardwareIommuDriver hardware)
            return hardware.CreateDevice(Group, Description.ReservedRegions);
        object? state = null;
        if (driver is MockIommuDriver)
        {
            var abilities = Iommu.Description;
            state = new MockDeviceState((abilities.DirtyTracking ? 0 : MockDeviceFlags.NoDirty) | (abilities.PasidWidth > 0 ? MockDeviceFlags.Pasid : 0));
        }
        return new Device(driver, Group, Description.ReservedRegions, state);
    }

    /// <summary>
    /// A new PCI function emulating the device's model at power-on: for <see cref="DeviceModels.DmaTest"/>
    /// the DMA test device, issuing PASIDs as wide as its IOMMU's (none when the IOMMU has no PASID).
    /// </summary>
    public IPciFunction CreatePciFunction() => Description.Model switch
    {
        DeviceModels.DmaTest => new DmaTestFunction(Description.Pci, Iommu.Description.PasidWidth),
        _ => throw new NotSupportedException($"no PCI function for device model '{Description.Model}'"),
    };
}
