using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>IOMMU_DESTROY (main.c iommufd_destroy → iommufd_object_remove).</summary>
public sealed class DestroyTests : IDisposable
{
    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(7u)]
    [InlineData(0x7fff_ffffu)]
    [InlineData(0xffff_ffffu)]
    public void Unknown_id_is_ENOENT(uint id) => Assert.Equal(Errno.ENOENT, _s.Destroy(id));

    [Fact]
    public void Id_zero_is_ENOENT_even_with_objects()
    {
        _s.AllocIoas();
        Assert.Equal(Errno.ENOENT, _s.Destroy(0));
        Assert.Equal(1, _s.Context.Objects.Count);
    }

    [Fact]
    public void Destroying_twice_is_ENOENT_the_second_time()
    {
        var id = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.Destroy(id));
        Assert.Equal(Errno.ENOENT, _s.Destroy(id));
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    [Fact]
    public void Destroyed_ioas_is_ENOENT_for_every_ioas_command()
    {
        var id = _s.AllocIoas();
        _s.MapFixed(id, 0x10000, 0x1000, 0x1000);
        Assert.Equal(Errno.Ok, _s.Destroy(id));

        Assert.Equal(Errno.ENOENT, _s.Map(id, 0x1000, 0x1000));
        Assert.Equal(Errno.ENOENT, _s.Unmap(id, 0, ulong.MaxValue, out _));
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(id, id, 0x10000, 0x1000), out _));
        Assert.Equal(Errno.ENOENT, _s.AllowIovas(id, new IommuIovaRange { Start = 0x1000, Last = 0x1fff }));
        var ranges = Cmd.IovaRanges(id, 0, 0);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref ranges));
        var option = Cmd.Option(Header.OptionHugePages, Header.OpGet, id);
        Assert.Equal(Errno.ENOENT, _s.Option(ref option));
    }

    [Fact]
    public void Destroying_an_ioas_with_mappings_succeeds()
    {
        var id = _s.AllocIoas();
        _s.MapFixed(id, 0x10000, 0x1000, 0x4000);
        _s.MapAuto(id, 0x20000, 0x2000);
        Assert.Equal(Errno.Ok, _s.Destroy(id));
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    [Fact]
    public void Ids_are_reused_lowest_first()
    {
        Assert.Equal(1u, _s.AllocIoas());
        Assert.Equal(2u, _s.AllocIoas());
        Assert.Equal(3u, _s.AllocIoas());

        Assert.Equal(Errno.Ok, _s.Destroy(2));
        Assert.Equal(2u, _s.AllocIoas());

        Assert.Equal(Errno.Ok, _s.Destroy(3));
        Assert.Equal(Errno.Ok, _s.Destroy(1));
        Assert.Equal(1u, _s.AllocIoas());
        Assert.Equal(3u, _s.AllocIoas());
        Assert.Equal(4u, _s.AllocIoas());
    }

    [Fact]
    public void Destroy_removes_an_object_of_any_kind()
    {
        var foreign = _s.AddForeignObject();
        Assert.Equal(Errno.Ok, _s.Destroy(foreign));
        Assert.Equal(Errno.ENOENT, _s.Destroy(foreign));
    }

    [Fact]
    public void Destroy_writes_nothing_back()
    {
        var id = _s.AllocIoas();
        var cmd = Cmd.Destroy(id);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(Cmd.Destroy(id), cmd);
    }
}
