using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Hardware;

namespace IommuFd.Core.Machines;

/// <summary>
/// A machine brought to life from its description: one <see cref="IommuInstance"/> (driver and
/// IOTLB) per IOMMU and one <see cref="MachineDevice"/> per device, devices of one group sharing
/// one <see cref="DeviceGroup"/>. Each instance gets its model's driver (<see cref="HardwareIommuDriver.For"/>:
/// intel-vtd, amd-vi, arm-smmuv3, the mock for selftest) unless <c>driverFor</c> says otherwise.
/// </summary>
public sealed class Machine
{
    /// <summary>Validates and brings up <paramref name="description"/>; each IOMMU's driver comes from <paramref name="driverFor"/>, else the mock.</summary>
    public Machine(MachineDescription description, Func<IommuDescription, IIommuDriver>? driverFor = null)
    {
        description.Validate();
        Description = description;
        driverFor ??= HardwareIommuDriver.For;
        var iommus = description.Iommus.ToDictionary(i => i.Id, i => new IommuInstance(i, driverFor(i)));
        var groups = new Dictionary<string, DeviceGroup>();
        Iommus = [.. description.Iommus.Select(i => iommus[i.Id])];
        Devices = [.. description.Devices.Select(d =>
        {
            if (!groups.TryGetValue(d.Group, out var group))
                groups[d.Group] = group = new DeviceGroup(d.Group);
            return new MachineDevice(d, iommus[d.Iommu], group);
        })];
    }

    /// <summary>What this machine was built from.</summary>
    public MachineDescription Description { get; }

    /// <summary>The running IOMMUs, in description order.</summary>
    public IReadOnlyList<IommuInstance> Iommus { get; }

    /// <summary>The devices, in description order.</summary>
    public IReadOnlyList<MachineDevice> Devices { get; }

    /// <summary>The device named <paramref name="name"/>; <see cref="KeyNotFoundException"/> when there is none.</summary>
    public MachineDevice Device(string name) =>
        Devices.FirstOrDefault(d => d.Description.Name == name) ?? throw new KeyNotFoundException($"no device '{name}' in machine '{Description.Name}'");
}
