using IommuFd.Core.Machines;

namespace IommuFd.Core.Tests.Machines;

/// <summary>Presets: each is valid, survives a JSON round trip, and has what the issue asks of it.</summary>
public sealed class MachinePresetTests
{
    public static TheoryData<string> Names => [.. MachinePresets.All.Select(m => m.Name)];

    [Theory]
    [MemberData(nameof(Names))]
    public void A_preset_is_valid_and_reads_back_equal_from_its_json(string name)
    {
        var preset = MachineDescription.Load(name);
        preset.Validate();
        var json = MachineJson.Write(preset);
        var back = MachineJson.Parse(json, $"{name}.json");
        Assert.Equal(json, MachineJson.Write(back));
        Assert.Equal(preset.Iommus, back.Iommus);
        Assert.Equal(preset.Devices.Count, back.Devices.Count);
        for (var i = 0; i < preset.Devices.Count; i++)
            Assert.Equal(preset.Devices[i] with { ReservedRegions = [] }, back.Devices[i] with { ReservedRegions = [] });
    }

    [Theory]
    [InlineData("intel-vtd", IommuModel.IntelVtd)]
    [InlineData("amd-vi", IommuModel.AmdVi)]
    [InlineData("arm-smmuv3", IommuModel.ArmSmmuV3)]
    public void Hardware_presets_have_two_dma_test_devices_in_separate_groups(string name, IommuModel model)
    {
        var machine = MachineDescription.Load(name);
        Assert.Equal(model, Assert.Single(machine.Iommus).Model);
        Assert.Equal(2, machine.Devices.Count(d => d.Model == DeviceModels.DmaTest));
        Assert.Equal(machine.Devices.Count, machine.Devices.Select(d => d.Group).Distinct().Count());
        Assert.False(machine.IsSelftest);
    }

    [Fact]
    public void Selftest_is_the_default_and_has_no_fixed_devices()
    {
        Assert.True(MachinePresets.Selftest.IsSelftest);
        Assert.Empty(MachinePresets.Selftest.Devices);
        Assert.Same(MachinePresets.Selftest, MachineDescription.Load("selftest"));
    }

    [Fact]
    public void A_description_built_in_code_is_checked_by_the_same_rules()
    {
        var iommu = IommuDescription.ForModel("dmar0", IommuModel.IntelVtd) with { IotlbEntries = 16 };
        var machine = new MachineDescription
        {
            Name = "coded",
            Iommus = [iommu],
            Devices =
            [
                new DeviceDescription { Name = "a", Pci = PciAddress.Parse("00:02.0"), Group = "g", Iommu = "dmar0" },
                new DeviceDescription { Name = "b", Pci = PciAddress.Parse("00:03.0"), Group = "g", Iommu = "dmar0" },
            ],
        };
        machine.Validate();
        Assert.Equal(16, MachineJson.Parse(MachineJson.Write(machine)).Iommus[0].IotlbEntries);

        var broken = machine with { Devices = [.. machine.Devices, machine.Devices[0] with { Name = "c" }] };
        var e = Assert.Throws<MachineDescriptionException>(broken.Validate);
        Assert.Equal("devices[2].pci: 0000:00:02.0 is already taken by device 'a'", e.Message);
        Assert.Equal(0, e.Line);
    }

    [Theory]
    [InlineData("0000:00:03.0", 0, 0, 3, 0)]
    [InlineData("00:1f.7", 0, 0, 0x1f, 7)]
    [InlineData("abcd:ff:00.1", 0xabcd, 0xff, 0, 1)]
    public void Pci_addresses_parse_and_print_canonically(string text, int segment, int bus, int device, int function)
    {
        var address = PciAddress.Parse(text);
        Assert.Equal(new PciAddress((ushort)segment, (byte)bus, (byte)device, (byte)function), address);
        Assert.Equal(address, PciAddress.Parse(address.ToString()));
    }

    [Theory]
    [InlineData("00:03")]
    [InlineData("0:00:03.0")]
    [InlineData("00:03.8")]
    [InlineData("00:20.0")]
    [InlineData("zz:00.0")]
    public void Bad_pci_addresses_are_refused(string text) => Assert.False(PciAddress.TryParse(text, out _));
}
