using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Machines;

namespace IommuFd.Core.Tests.Machines;

/// <summary>A running machine: instances per IOMMU with their IOTLB size, devices in their groups.</summary>
public sealed class MachineTests
{
    [Fact]
    public void A_machine_gives_each_iommu_its_iotlb_and_each_group_one_device_group()
    {
        var description = new MachineDescription
        {
            Name = "m",
            Iommus =
            [
                IommuDescription.ForModel("a", IommuModel.IntelVtd) with { IotlbEntries = 8, DirtyTracking = false },
                IommuDescription.ForModel("b", IommuModel.ArmSmmuV3) with { IotlbEntries = 3, PasidWidth = 0 },
            ],
            Devices =
            [
                new DeviceDescription { Name = "x", Pci = PciAddress.Parse("00:01.0"), Group = "g", Iommu = "a", ReservedRegions = [new IovaRange(0x1000, 0x1fff)] },
                new DeviceDescription { Name = "y", Pci = PciAddress.Parse("00:02.0"), Group = "g", Iommu = "a" },
                new DeviceDescription { Name = "z", Pci = PciAddress.Parse("00:03.0"), Group = "h", Iommu = "b" },
            ],
        };
        // The mock driver, whose per-device state follows the IOMMU's abilities (the default is each model's driver).
        var machine = new Machine(description, _ => MockIommuDriver.Instance);
        Assert.Equal([8, 3], machine.Iommus.Select(i => i.Iotlb.Capacity));
        Assert.Same(machine.Device("x").Group, machine.Device("y").Group);
        Assert.NotSame(machine.Device("x").Group, machine.Device("z").Group);
        Assert.Same(machine.Iommus[1], machine.Device("z").Iommu);

        var x = machine.Device("x").CreateDevice();
        Assert.Equal([new IovaRange(0x1000, 0x1fff)], x.ReservedRegions);
        Assert.Equal(MockDeviceFlags.NoDirty | MockDeviceFlags.Pasid, MockIommuDriver.StateOf(x).Flags);
        Assert.Equal(MockDeviceFlags.None, MockIommuDriver.StateOf(machine.Device("z").CreateDevice()).Flags);
        Assert.Throws<KeyNotFoundException>(() => machine.Device("w"));
    }

    [Fact]
    public void An_invalid_description_is_refused_when_the_machine_is_built()
    {
        var bad = MachinePresets.AmdVi with { Devices = [MachinePresets.AmdVi.Devices[0] with { Iommu = "nope" }] };
        Assert.Throws<MachineDescriptionException>(() => new Machine(bad));
    }
}
