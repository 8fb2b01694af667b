using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>IOMMU_VFIO_IOAS (vfio_compat.c iommufd_vfio_ioas): the IOAS the VFIO compatibility calls use.</summary>
public sealed class VfioIoasTests : IDisposable
{
    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    [Fact]
    public void Get_with_none_set_is_ENODEV()
    {
        Assert.Equal(Errno.ENODEV, _s.VfioIoas(Mock.VfioIoasGet, 0, out var id));
        Assert.Equal(0u, id);
        _s.AllocIoas();
        // Allocating an IOAS does not make it the compatibility IOAS.
        Assert.Equal(Errno.ENODEV, _s.VfioIoas(Mock.VfioIoasGet, 0, out _));
    }

    [Fact]
    public void Set_of_an_unknown_id_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, _s.VfioIoas(Mock.VfioIoasSet, 0, out _));
        Assert.Equal(Errno.ENOENT, _s.VfioIoas(Mock.VfioIoasSet, 999, out _));
        Assert.Equal(Errno.ENODEV, _s.VfioIoas(Mock.VfioIoasGet, 0, out _));
    }

    [Fact]
    public void Set_of_something_that_is_not_an_ioas_is_ENOENT()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.ENOENT, _s.VfioIoas(Mock.VfioIoasSet, ids.Hwpt, out _));
        Assert.Equal(Errno.ENOENT, _s.VfioIoas(Mock.VfioIoasSet, ids.Idev, out _));
        Assert.Equal(Errno.ENOENT, _s.VfioIoas(Mock.VfioIoasSet, ids.Stdev, out _));
    }

    [Fact]
    public void Set_then_get_returns_it()
    {
        _s.AllocIoas();
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasSet, ioas, out _));
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasGet, 0, out var id));
        Assert.Equal(ioas, id);
        // GET ignores the ioas_id it is given.
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasGet, 12345, out id));
        Assert.Equal(ioas, id);
        // SET again switches it.
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasSet, 1, out _));
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasGet, 0, out id));
        Assert.Equal(1u, id);
    }

    [Fact]
    public void Clear_then_get_is_ENODEV()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasSet, ioas, out _));
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasClear, 0, out _));
        Assert.Equal(Errno.ENODEV, _s.VfioIoas(Mock.VfioIoasGet, 0, out _));
        // CLEAR with nothing set, or with any id, always succeeds.
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasClear, 999, out _));
        // The IOAS itself is untouched.
        Assert.Equal(Errno.Ok, _s.Destroy(ioas));
    }

    [Fact]
    public void Destroying_the_ioas_clears_it()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasSet, ioas, out _));
        // Being the compatibility IOAS does not hold it.
        Assert.Equal(Errno.Ok, _s.Destroy(ioas));
        Assert.Equal(Errno.ENODEV, _s.VfioIoas(Mock.VfioIoasGet, 0, out _));
        // A new IOAS that reuses the ID is not the compatibility IOAS either.
        Assert.Equal(ioas, _s.AllocIoas());
        Assert.Equal(Errno.ENODEV, _s.VfioIoas(Mock.VfioIoasGet, 0, out _));
    }

    [Theory]
    [InlineData((ushort)1)]
    [InlineData((ushort)0x8000)]
    [InlineData((ushort)0xffff)]
    public void Reserved_field_is_EOPNOTSUPP(ushort reserved)
    {
        var ioas = _s.AllocIoas();
        foreach (var op in new[] { Mock.VfioIoasGet, Mock.VfioIoasSet, Mock.VfioIoasClear, (ushort)3 })
        {
            var cmd = DevCmd.VfioIoas(op, ioas) with { Reserved = reserved };
            Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
        }
        Assert.Equal(Errno.ENODEV, _s.VfioIoas(Mock.VfioIoasGet, 0, out _));
    }

    [Theory]
    [InlineData((ushort)3)]
    [InlineData((ushort)0xffff)]
    public void Unknown_op_is_EOPNOTSUPP(ushort op)
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.EOPNOTSUPP, _s.VfioIoas(op, ioas, out _));
        Assert.Equal(Errno.EOPNOTSUPP, _s.VfioIoas(op, 999, out _));
    }

    [Fact]
    public void Each_context_has_its_own()
    {
        using var other = _s.OpenAnother();
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasSet, ioas, out _));
        Assert.Equal(Errno.ENODEV, other.VfioIoas(Mock.VfioIoasGet, 0, out _));
    }

    [Fact]
    public void Size_11_is_EINVAL()
    {
        var cmd = DevCmd.VfioIoas(Mock.VfioIoasGet) with { Size = 11 };
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
    }
}
