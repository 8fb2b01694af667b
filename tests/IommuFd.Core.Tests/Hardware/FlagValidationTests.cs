using IommuFd.Core.Drivers;
using IommuFd.Core.Machines;

namespace IommuFd.Core.Tests.Hardware;

/// <summary>HWPT_ALLOC flags against each model's abilities: the format a flag selects, and EOPNOTSUPP for what the model cannot do.</summary>
public sealed class FlagValidationTests
{
    private const HwptAllocFlags Nest = HwptAllocFlags.NestParent, Dirty = HwptAllocFlags.DirtyTracking, Pasid = HwptAllocFlags.Pasid;

    [Theory]
    [InlineData(IommuModel.IntelVtd, HwptAllocFlags.None, "x86-fs-4level")]
    [InlineData(IommuModel.IntelVtd, Pasid, "x86-fs-4level")]
    [InlineData(IommuModel.IntelVtd, Nest, "vtd-ss-4level")]
    [InlineData(IommuModel.IntelVtd, Dirty, "vtd-ss-4level")]
    [InlineData(IommuModel.IntelVtd, Nest | Dirty | Pasid, "vtd-ss-4level")]
    [InlineData(IommuModel.AmdVi, HwptAllocFlags.None, "amdv1-mode4")]
    [InlineData(IommuModel.AmdVi, Dirty, "amdv1-mode4")]
    [InlineData(IommuModel.AmdVi, Pasid, "x86-fs-4level")]
    [InlineData(IommuModel.ArmSmmuV3, HwptAllocFlags.None, "arm-s1-4k-48bit")]
    [InlineData(IommuModel.ArmSmmuV3, Pasid, "arm-s1-4k-48bit")]
    [InlineData(IommuModel.ArmSmmuV3, Nest, "arm-s2-4k-48bit")]
    [InlineData(IommuModel.ArmSmmuV3, Dirty, "arm-s1-4k-48bit-dbm")]
    [InlineData(IommuModel.ArmSmmuV3, Dirty | Pasid, "arm-s1-4k-48bit-dbm")]
    public void Flags_select_the_models_format(IommuModel model, HwptAllocFlags flags, string format)
    {
        using var rig = new HardwareRig(model);
        rig.Alloc(flags, out var hwpt).ThrowIfError("alloc");
        var domain = rig.DomainOf(hwpt);
        Assert.Equal(format, domain.FormatName);
        Assert.Equal(flags.HasFlag(Dirty), domain.CanTrackDirty);
    }

    [Theory]
    [InlineData(IommuModel.AmdVi, Nest)] // no nesting in the targeted kernel's AMD driver
    [InlineData(IommuModel.AmdVi, Dirty | Pasid)]
    [InlineData(IommuModel.ArmSmmuV3, Nest | Dirty)]
    [InlineData(IommuModel.ArmSmmuV3, Nest | Pasid)]
    public void Combinations_the_model_lacks_are_refused(IommuModel model, HwptAllocFlags flags)
    {
        using var rig = new HardwareRig(model);
        Assert.Equal(Errno.EOPNOTSUPP, rig.Alloc(flags, out _));
    }

    [Theory]
    [InlineData(IommuModel.IntelVtd)]
    [InlineData(IommuModel.AmdVi)]
    [InlineData(IommuModel.ArmSmmuV3)]
    public void Abilities_the_description_withholds_are_refused(IommuModel model)
    {
        var iommu = IommuDescription.ForModel("iommu0", model) with { DirtyTracking = false, Nesting = false, PasidWidth = 0 };
        using var rig = new HardwareRig(iommu);
        Assert.Equal(Errno.EOPNOTSUPP, rig.Alloc(Dirty, out _));
        Assert.Equal(Errno.EOPNOTSUPP, rig.Alloc(Nest, out _));
        Assert.Equal(Errno.EOPNOTSUPP, rig.Alloc(Pasid, out _));
        Assert.Equal(Errno.Ok, rig.Alloc(HwptAllocFlags.None, out _));
    }

    [Fact]
    public void Driver_data_for_a_paging_domain_is_refused()
    {
        using var rig = new HardwareRig(IommuModel.IntelVtd);
        Assert.Equal(Errno.EOPNOTSUPP, rig.Context.AllocHwpt(rig.DeviceId, rig.Ioas, HwptAllocFlags.None, new ManagedDriverData(1, new byte[8]), out _));
    }

    [Fact]
    public void A_dirty_tracking_domain_refuses_a_device_whose_iommu_cannot_track()
    {
        using var rig = new HardwareRig(IommuModel.IntelVtd);
        rig.Alloc(Dirty, out var dirty).ThrowIfError("alloc");
        rig.Alloc(HwptAllocFlags.NestParent, out var plain).ThrowIfError("alloc");
        var other = new Machine(MachinePresets.IntelVtd with { Iommus = [MachinePresets.IntelVtd.Iommus[0] with { DirtyTracking = false }] });
        rig.Context.BindDevice(other.Device("dma0").CreateDevice(), out var untracked).ThrowIfError("bind");
        Assert.Equal(Errno.EINVAL, rig.Context.AttachDevice(untracked, dirty, out _));
        // A domain of the same format without tracking is shared across the two units.
        Assert.Equal(Errno.Ok, rig.Context.AttachDevice(untracked, plain, out _));
    }
}
