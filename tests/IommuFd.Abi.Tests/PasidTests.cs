using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// The self-test's PASID ops (PASID_ATTACH/REPLACE/DETACH/CHECK_HWPT, @id the self-test device)
/// and HWPT_ALLOC's PASID flag: errnos as the kernel's device.c and selftest.c give them.
/// </summary>
public sealed class PasidTests : IDisposable
{
    private const uint Pasid = 100;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _dev;

    public PasidTests()
    {
        _ioas = _s.AllocIoas();
        _dev = _s.AddMock(_ioas, Mock.DevicePasid);
    }

    public void Dispose() => _s.Dispose();

    private Errno Op(uint op, uint pasid, uint id2, uint? stdev = null)
    {
        var cmd = DevCmd.Test(op, stdev ?? _dev.Stdev);
        cmd.PasidAttach = new TestPasidTarget { Pasid = pasid, PtId = id2 };
        return _s.Ioctl(ref cmd);
    }

    private Errno Attach(uint pasid, uint pt, uint? stdev = null) => Op(TestOps.PasidAttach, pasid, pt, stdev);

    private Errno Replace(uint pasid, uint pt) => Op(TestOps.PasidReplace, pasid, pt);

    private Errno Detach(uint pasid) => Op(TestOps.PasidDetach, pasid, 0);

    private Errno Check(uint pasid, uint hwpt, uint? stdev = null) => Op(TestOps.PasidCheckHwpt, pasid, hwpt, stdev);

    [Fact]
    public void Attach_check_and_detach()
    {
        var s2 = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptPasid);
        Assert.Equal(Errno.Ok, Detach(Pasid));
        Assert.Equal(Errno.Ok, Check(Pasid, 0));
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, s2, out _)); // the RID on a PASID-compatible HWPT
        Assert.Equal(Errno.Ok, Attach(Pasid, s2));
        Assert.Equal(Errno.Ok, Check(Pasid, s2));
        Assert.Equal(Errno.EINVAL, Check(Pasid, 0));
        Assert.Equal(Errno.EBUSY, Attach(Pasid, s2));
        Assert.Equal(Errno.Ok, Detach(Pasid));
        Assert.Equal(Errno.Ok, Check(Pasid, 0));
    }

    [Fact]
    public void Errnos_of_the_attach_rules()
    {
        var plain = _s.AllocHwpt(_dev.Idev, _ioas, 0);
        var s2 = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptPasid);
        Assert.Equal(Errno.EINVAL, Attach(Pasid, plain));
        Assert.Equal(Errno.EINVAL, Attach(Pasid, _ioas));
        Assert.Equal(Errno.ENOENT, Attach(Pasid, 9999));
        Assert.Equal(Errno.ENOENT, Attach(Pasid, s2, stdev: 9999));
        Assert.Equal(Errno.EINVAL, Replace(Pasid, s2)); // not attached
        Assert.Equal(Errno.ENOENT, Check(Pasid, 9999));
        Assert.Equal(Errno.ENOENT, Check(Pasid, 0, stdev: 9999));
        // The RID (attached to an automatic HWPT, never PASID-compatible) refuses PASIDs until replaced.
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, s2, out _));
        Assert.Equal(Errno.Ok, Attach(Pasid, s2));
        Assert.Equal(Errno.EINVAL, _s.MockReplace(_dev.Stdev, plain, out _));
    }

    [Fact]
    public void A_device_without_pasid_refuses_every_pasid()
    {
        var s2 = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptPasid);
        var plain = _s.AddMock(_ioas);
        Assert.Equal(Errno.Ok, _s.MockReplace(plain.Stdev, s2, out _));
        Assert.Equal(Errno.EINVAL, Attach(Pasid, s2, stdev: plain.Stdev));
    }

    [Fact]
    public void Replace_and_the_faulty_pasid()
    {
        var s2 = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptPasid);
        var other = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptPasid);
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, s2, out _));
        Assert.Equal(Errno.Ok, Attach(200, s2));
        Assert.Equal(Errno.EINVAL, Replace(200, _ioas));
        Assert.Equal(Errno.Ok, Check(200, s2));
        Assert.Equal(Errno.Ok, Replace(200, other));
        Assert.Equal(Errno.Ok, Check(200, other));
        Assert.Equal(Errno.Ok, Attach(1024, s2));
        Assert.Equal(Errno.ENOMEM, Replace(1024, other));
        Assert.Equal(Errno.Ok, Check(1024, s2));
        Assert.Equal(Errno.Ok, Detach(1024));
        Assert.Equal(Errno.Ok, Detach(200));
        Assert.Equal(Errno.Ok, _s.Destroy(other));
    }

    [Fact]
    public void Max_pasid_log2_in_hw_info()
    {
        var plain = _s.AddMock(_ioas);
        foreach (var (idev, want) in new[] { (_dev.Idev, (byte)20), (plain.Idev, (byte)0) })
        {
            var cmd = DevCmd.HwInfo(idev);
            Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
            Assert.Equal(want, cmd.OutMaxPasidLog2);
        }
    }
}
