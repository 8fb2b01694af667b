using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_IOAS_CHANGE_PROCESS (ioas.c iommufd_ioas_change_process): only file-backed mappings can
/// move to another process, so any plain MAP anywhere in the context refuses it.
/// </summary>
public sealed class ChangeProcessTests : IDisposable
{
    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    private Errno ChangeProcess(uint reserved = 0)
    {
        var cmd = DevCmd.ChangeProcess(reserved);
        return _s.Ioctl(ref cmd);
    }

    [Fact]
    public void Empty_context_succeeds()
    {
        Assert.Equal(Errno.Ok, ChangeProcess());
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    [Fact]
    public void Ioases_without_mappings_succeed()
    {
        var ioas = _s.AllocIoas();
        _s.AllocIoas();
        _s.AddMock(ioas);
        Assert.Equal(Errno.Ok, ChangeProcess());
    }

    [Fact]
    public void Reserved_field_is_EOPNOTSUPP()
    {
        Assert.Equal(Errno.EOPNOTSUPP, ChangeProcess(1));
        Assert.Equal(Errno.EOPNOTSUPP, ChangeProcess(0x8000_0000));
    }

    [Fact]
    public void Any_plain_map_is_EINVAL()
    {
        _s.AllocIoas();
        var ioas = _s.AllocIoas();
        _s.MapFixed(ioas, 0x10_0000, 0x7a00_0000_0000, 0x1000);
        Assert.Equal(Errno.EINVAL, ChangeProcess());
        // The mapping is untouched, and once it is gone the call succeeds.
        Assert.Single(_s.Mappings(ioas));
        Assert.Equal(Errno.Ok, _s.Unmap(ioas, 0, ulong.MaxValue, out _));
        Assert.Equal(Errno.Ok, ChangeProcess());
    }

    [Fact]
    public void Plain_map_with_a_domain_is_EINVAL_and_keeps_the_pins()
    {
        var ioas = _s.AllocIoas();
        _s.AddMock(ioas);
        var buffer = _s.Heap.Alloc(0x4000);
        _s.MapFixed(ioas, Mock.ApertureStart, buffer, 0x4000);
        Assert.Equal(Errno.EINVAL, ChangeProcess());
        Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x4000, 1));
    }

    [Fact]
    public void Copied_mapping_is_still_a_plain_one()
    {
        var src = _s.AllocIoas();
        var dst = _s.AllocIoas();
        _s.MapFixed(src, 0x10_0000, 0x7a00_0000_0000, 0x1000);
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(dst, src, 0x10_0000, 0x1000), out _));
        Assert.Equal(Errno.Ok, _s.Unmap(src, 0, ulong.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, ChangeProcess());
    }

    [Fact]
    public void Size_7_is_EINVAL()
    {
        var cmd = DevCmd.ChangeProcess() with { Size = 7 };
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
    }
}
