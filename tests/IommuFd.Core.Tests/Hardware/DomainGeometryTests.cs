using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Hardware;
using IommuFd.Core.Machines;

namespace IommuFd.Core.Tests.Hardware;

/// <summary>Each model's paging domain: aperture from the address width, page sizes, and the reserved regions its devices bring to an IOAS.</summary>
public sealed class DomainGeometryTests
{
    private const ulong K4 = 1UL << 12, M2 = 1UL << 21, G1 = 1UL << 30;

    private static (IReadOnlyList<IovaRange> Ranges, ulong Alignment) AttachedRanges(HardwareRig rig)
    {
        rig.Context.AttachDevice(rig.DeviceId, rig.Ioas, out _).ThrowIfError("attach");
        rig.Context.GetIovaRanges(rig.Ioas, out var ranges, out var alignment).ThrowIfError("ranges");
        return (ranges, alignment);
    }

    [Fact]
    public void Vtd_first_stage_gets_the_lower_canonical_half_less_the_msi_window()
    {
        using var rig = new HardwareRig(IommuModel.IntelVtd);
        var (ranges, alignment) = AttachedRanges(rig);
        Assert.Equal([new IovaRange(0, 0xfedf_ffff), new IovaRange(0xfef0_0000, (1UL << 47) - 1)], ranges);
        Assert.Equal(K4, alignment);
    }

    [Fact]
    public void Vtd_second_stage_spans_the_address_width()
    {
        using var rig = new HardwareRig(IommuDescription.ForModel("dmar0", IommuModel.IntelVtd) with { AddressWidth = 39 });
        rig.Alloc(HwptAllocFlags.NestParent, out var hwpt).ThrowIfError("alloc");
        var domain = rig.DomainOf(hwpt);
        Assert.Equal(new IovaRange(0, (1UL << 39) - 1), domain.Aperture);
        Assert.Equal(K4 | M2 | G1, domain.PageSizeBitmap);
        Assert.Equal("vtd-ss-3level", domain.FormatName);
    }

    [Fact]
    public void Amd_reserves_the_msi_window_and_hypertransport()
    {
        using var rig = new HardwareRig(IommuModel.AmdVi);
        var (ranges, alignment) = AttachedRanges(rig);
        Assert.Equal([new IovaRange(0, 0xfedf_ffff), new IovaRange(0xfef0_0000, 0xfc_ffff_ffff), new IovaRange(0x100_0000_0000, (1UL << 48) - 1)], ranges);
        Assert.Equal(K4, alignment);
        Assert.Equal("amdv1-mode4", rig.DomainOf(rig.Device.Attached!.TypedId).FormatName);
    }

    [Fact]
    public void Smmuv3_reserves_the_software_msi_window()
    {
        using var rig = new HardwareRig(IommuModel.ArmSmmuV3);
        var (ranges, alignment) = AttachedRanges(rig);
        Assert.Equal([new IovaRange(0, 0x7ff_ffff), new IovaRange(0x810_0000, (1UL << 48) - 1)], ranges);
        Assert.Equal(K4, alignment);
    }

    [Fact]
    public void Smmuv3_takes_its_granule_from_the_page_sizes()
    {
        using var rig = new HardwareRig(IommuDescription.ForModel("smmu0", IommuModel.ArmSmmuV3) with { AddressWidth = 44, PageSizes = (1UL << 16) | (1UL << 29) });
        rig.Driver.AllocatePagingDomain(rig.Device, HwptAllocFlags.None, null, out var created).ThrowIfError("alloc");
        var domain = (IHardwarePagingDomain)created;
        Assert.Equal((1UL << 16) | (1UL << 29), domain.PageSizeBitmap);
        Assert.Equal(new IovaRange(0, (1UL << 44) - 1), domain.Aperture);
        Assert.Equal("arm-s1-64k-44bit", domain.FormatName);
        // As in the kernel, an IOAS on 4 KiB CPU pages cannot take a domain whose smallest page is larger.
        Assert.Equal(Errno.EINVAL, rig.Alloc(HwptAllocFlags.None, out _));
    }

    [Theory]
    [InlineData(IommuModel.IntelVtd, 0xfee0_0000UL)]
    [InlineData(IommuModel.AmdVi, 0xfee0_0000UL)]
    [InlineData(IommuModel.ArmSmmuV3, 0x800_0000UL)]
    public void A_machine_device_brings_its_models_regions_and_its_own(IommuModel model, ulong msiStart)
    {
        var preset = model switch { IommuModel.IntelVtd => MachinePresets.IntelVtd, IommuModel.AmdVi => MachinePresets.AmdVi, _ => MachinePresets.ArmSmmuV3 };
        var extra = new IovaRange(0x1000, 0x1fff);
        var machine = new Machine(preset with { Devices = [preset.Devices[0] with { ReservedRegions = [extra] }] });
        var device = machine.Devices[0].CreateDevice();
        Assert.IsAssignableFrom<HardwareIommuDriver>(device.Driver);
        Assert.Equal(msiStart, device.ReservedRegions[0].Start);
        Assert.Equal(extra, device.ReservedRegions[^1]);
    }
}
