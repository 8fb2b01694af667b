using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_VIOMMU_ALLOC and IOMMU_VDEVICE_ALLOC (viommu.c): the checks before a vIOMMU is built
/// (what follows is in <see cref="ViommuObjectsAbiTests"/>).
/// </summary>
public sealed class ViommuTests : IDisposable
{
    /// <summary>IOMMU_VIOMMU_TYPE_SELFTEST, the one type the mock's get_viommu_size accepts.</summary>
    private const uint TypeSelftest = 0xdeadbeef;

    /// <summary>IOMMU_VIOMMU_TYPE_ARM_SMMUV3: a real type the mock does not offer.</summary>
    private const uint TypeArmSmmuV3 = 1;

    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    private Errno Viommu(IommuViommuAlloc cmd, out IommuViommuAlloc after)
    {
        var rc = _s.Ioctl(ref cmd);
        after = cmd;
        return rc;
    }

    private Errno Vdevice(IommuVdeviceAlloc cmd)
    {
        var rc = _s.Ioctl(ref cmd);
        return rc;
    }

    [Fact]
    public void All_zero_viommu_alloc_is_EOPNOTSUPP_because_type_default_is_refused()
    {
        // viommu.c: `if (cmd->flags || cmd->type == IOMMU_VIOMMU_TYPE_DEFAULT) return -EOPNOTSUPP;`
        // comes before the device lookup, so dev_id 0 is never looked at.
        Assert.Equal(Errno.EOPNOTSUPP, Viommu(DevCmd.ViommuAlloc(), out var after));
        Assert.Equal(0u, after.OutViommuId);
    }

    [Fact]
    public void Any_flag_is_EOPNOTSUPP_before_the_lookups()
    {
        Assert.Equal(Errno.EOPNOTSUPP, Viommu(DevCmd.ViommuAlloc(type: TypeSelftest, flags: 1), out _));
        Assert.Equal(Errno.EOPNOTSUPP, Viommu(DevCmd.ViommuAlloc(type: TypeSelftest, flags: 1u << 31), out _));
    }

    [Fact]
    public void Unknown_device_is_ENOENT()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.ENOENT, Viommu(DevCmd.ViommuAlloc(0, ids.Hwpt, TypeSelftest), out _));
        Assert.Equal(Errno.ENOENT, Viommu(DevCmd.ViommuAlloc(999, ids.Hwpt, TypeSelftest), out _));
        Assert.Equal(Errno.ENOENT, Viommu(DevCmd.ViommuAlloc(ioas, ids.Hwpt, TypeSelftest), out _));
        Assert.Equal(Errno.ENOENT, Viommu(DevCmd.ViommuAlloc(ids.Stdev, ids.Hwpt, TypeSelftest), out _));
    }

    [Fact]
    public void Type_the_driver_does_not_offer_is_EOPNOTSUPP_before_the_hwpt_lookup()
    {
        // get_viommu_size() returns 0 for anything but IOMMU_VIOMMU_TYPE_SELFTEST, and the core asks
        // it before it looks up hwpt_id.
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.EOPNOTSUPP, Viommu(DevCmd.ViommuAlloc(ids.Idev, ids.Hwpt, TypeArmSmmuV3), out _));
        Assert.Equal(Errno.EOPNOTSUPP, Viommu(DevCmd.ViommuAlloc(ids.Idev, 0, TypeArmSmmuV3), out _));
        Assert.Equal(Errno.EOPNOTSUPP, Viommu(DevCmd.ViommuAlloc(ids.Idev, 999, TypeArmSmmuV3), out _));
    }

    [Fact]
    public void Minimum_viommu_size_is_24()
    {
        var cmd = DevCmd.ViommuAlloc(type: TypeSelftest) with { Size = 23 };
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
        cmd = DevCmd.ViommuAlloc(type: TypeSelftest) with { Size = Header.ViommuAllocMinSize };
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
    }

    [Fact]
    public void All_zero_vdevice_alloc_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, Vdevice(DevCmd.VdeviceAlloc()));
    }

    [Fact]
    public void Vdevice_on_anything_but_a_viommu_is_ENOENT()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.ENOENT, Vdevice(DevCmd.VdeviceAlloc(999, ids.Idev, 1)));
        Assert.Equal(Errno.ENOENT, Vdevice(DevCmd.VdeviceAlloc(ids.Hwpt, ids.Idev, 1)));
        Assert.Equal(Errno.ENOENT, Vdevice(DevCmd.VdeviceAlloc(ioas, ids.Idev, 1)));
        Assert.Equal(Errno.ENOENT, Vdevice(DevCmd.VdeviceAlloc(ids.Idev, ids.Idev, ulong.MaxValue)));
    }

    [Fact]
    public void Vdevice_size_23_is_EINVAL()
    {
        var cmd = DevCmd.VdeviceAlloc() with { Size = 23 };
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
    }
}
