using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>IOMMU_IOAS_UNMAP (ioas.c iommufd_ioas_unmap → io_pagetable.c iopt_unmap_iova / iopt_unmap_all).</summary>
public sealed class IoasUnmapTests : IDisposable
{
    private const ulong UserVa = 0x7a00_0000_0000;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;

    public IoasUnmapTests() => _ioas = _s.AllocIoas();

    public void Dispose() => _s.Dispose();

    [Theory]
    [InlineData(0ul, ulong.MaxValue)]
    [InlineData(0x1000ul, 0ul)]
    [InlineData(ulong.MaxValue, 1ul)]
    [InlineData(0x1000ul, ulong.MaxValue)]
    [InlineData(0xffff_ffff_ffff_f000ul, 0x2000ul)]
    [InlineData(0x1000ul, 0x1000ul)]
    public void Unknown_ioas_is_ENOENT_before_any_other_check(ulong iova, ulong length)
    {
        var cmd = Cmd.Unmap(999, iova, length);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
        Assert.Equal(length, cmd.Length);
        cmd = Cmd.Unmap(0, iova, length);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
    }

    [Fact]
    public void Id_of_another_object_kind_is_ENOENT()
    {
        var foreign = _s.AddForeignObject();
        Assert.Equal(Errno.ENOENT, _s.Unmap(foreign, 0, ulong.MaxValue, out _));
    }

    [Fact]
    public void Unmap_all_of_an_empty_ioas_succeeds_with_zero_length()
    {
        var cmd = Cmd.Unmap(_ioas, 0, ulong.MaxValue);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(0ul, cmd.Length);
        Assert.Equal(0ul, cmd.Iova);
        Assert.Equal(_ioas, cmd.IoasId);
    }

    [Fact]
    public void Unmap_all_returns_the_total_and_empties_the_ioas()
    {
        _s.MapFixed(_ioas, 0x1000, UserVa, 0x1000);
        _s.MapFixed(_ioas, 0x10_0000, UserVa, 0x3000);
        _s.MapFixed(_ioas, 0xffff_0000_0000, UserVa, 0x10_0000);
        _s.MapAuto(_ioas, UserVa + 0x123, 0x10);

        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, 0, ulong.MaxValue, out var unmapped));
        Assert.Equal(0x1000ul + 0x3000 + 0x10_0000 + 0x10, unmapped);
        Assert.Empty(_s.Mappings(_ioas));

        // A second unmap-all finds nothing and still succeeds.
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, 0, ulong.MaxValue, out unmapped));
        Assert.Equal(0ul, unmapped);
    }

    [Fact]
    public void Unmap_all_includes_a_mapping_at_iova_zero_and_at_the_top()
    {
        _s.MapFixed(_ioas, 0, UserVa, 0x1000);
        _s.MapFixed(_ioas, 0xffff_ffff_ffff_e000, UserVa, 0x1fff);
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, 0, ulong.MaxValue, out var unmapped));
        Assert.Equal(0x2fffUL, unmapped);
    }

    [Fact]
    public void Zero_length_is_EINVAL()
    {
        _s.MapFixed(_ioas, 0x1000, UserVa, 0x1000);
        Assert.Equal(Errno.EINVAL, _s.Unmap(_ioas, 0x1000, 0, out _));
        Assert.Equal(Errno.EINVAL, _s.Unmap(_ioas, 0, 0, out _));
        Assert.Single(_s.Mappings(_ioas));
    }

    [Theory]
    [InlineData(ulong.MaxValue, 1ul)]
    [InlineData(ulong.MaxValue, 0ul)]
    [InlineData(1ul, ulong.MaxValue)]
    [InlineData(0x1000ul, ulong.MaxValue)]
    [InlineData(ulong.MaxValue, ulong.MaxValue)]
    public void All_ones_iova_or_length_other_than_unmap_all_is_EOVERFLOW(ulong iova, ulong length)
    {
        _s.MapFixed(_ioas, 0x1000, UserVa, 0x1000);
        var cmd = Cmd.Unmap(_ioas, iova, length);
        Assert.Equal(Errno.EOVERFLOW, _s.Ioctl(ref cmd));
        Assert.Equal(length, cmd.Length);
        Assert.Single(_s.Mappings(_ioas));
    }

    [Theory]
    [InlineData(0xffff_ffff_ffff_f000ul, 0x2000ul)]
    [InlineData(0xffff_ffff_ffff_fffeul, 3ul)]
    [InlineData(0x8000_0000_0000_0000ul, 0x8000_0000_0000_0001ul)]
    public void Range_that_wraps_is_EOVERFLOW(ulong iova, ulong length) =>
        Assert.Equal(Errno.EOVERFLOW, _s.Unmap(_ioas, iova, length, out _));

    [Fact]
    public void Range_with_no_mapping_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, _s.Unmap(_ioas, 0x1000, 0x1000, out _));
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x4000);
        Assert.Equal(Errno.ENOENT, _s.Unmap(_ioas, 0x1000, 0xf000, out _));
        Assert.Equal(Errno.ENOENT, _s.Unmap(_ioas, 0x14000, 0x1000, out _));
        Assert.Single(_s.Mappings(_ioas));
    }

    [Fact]
    public void Reserved_range_alone_is_ENOENT()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x10000, 0x1ffff));
        Assert.Equal(Errno.ENOENT, _s.Unmap(_ioas, 0x10000, 0x10000, out _));
    }

    [Theory]
    [InlineData(0x11000ul, 0x3000ul)] // cuts the first page off
    [InlineData(0x10000ul, 0x3000ul)] // cuts the last page off
    [InlineData(0x11000ul, 0x1000ul)] // the middle
    [InlineData(0x0f000ul, 0x2000ul)] // reaches into the start
    [InlineData(0x13000ul, 0x2000ul)] // reaches into the end
    [InlineData(0x10000ul, 1ul)] // the first byte
    public void Range_cutting_a_mapping_is_ENOENT_and_unmaps_nothing(ulong iova, ulong length)
    {
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x4000);
        var cmd = Cmd.Unmap(_ioas, iova, length);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
        Assert.Equal(length, cmd.Length);
        var mapping = Assert.Single(_s.Mappings(_ioas));
        Assert.Equal(new IovaRange(0x10000, 0x13fff), mapping.Iova);
    }

    [Fact]
    public void Range_covering_one_area_and_cutting_the_next_unmaps_nothing()
    {
        // All or nothing (the engine's documented design): the whole area before the cut stays.
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x1000);
        _s.MapFixed(_ioas, 0x11000, UserVa, 0x2000);
        Assert.Equal(Errno.ENOENT, _s.Unmap(_ioas, 0x10000, 0x2000, out _));
        Assert.Equal(2, _s.Mappings(_ioas).Count);
    }

    [Fact]
    public void Range_cutting_the_first_area_and_covering_the_next_unmaps_nothing()
    {
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x2000);
        _s.MapFixed(_ioas, 0x12000, UserVa, 0x1000);
        Assert.Equal(Errno.ENOENT, _s.Unmap(_ioas, 0x11000, 0x2000, out _));
        Assert.Equal(2, _s.Mappings(_ioas).Count);
    }

    [Fact]
    public void Exact_range_unmaps_the_area_and_returns_its_length()
    {
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x4000);
        var cmd = Cmd.Unmap(_ioas, 0x10000, 0x4000);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(0x4000ul, cmd.Length);
        Assert.Equal(0x10000ul, cmd.Iova);
        Assert.Empty(_s.Mappings(_ioas));
        Assert.Null(_s.Translate(_ioas, 0x10000, out _));

        // It is gone: the same range is now ENOENT.
        Assert.Equal(Errno.ENOENT, _s.Unmap(_ioas, 0x10000, 0x4000, out _));
    }

    [Fact]
    public void Range_covering_several_whole_areas_unmaps_them_all()
    {
        _s.MapFixed(_ioas, 0x08000, UserVa, 0x1000); // outside, below
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x1000);
        _s.MapFixed(_ioas, 0x12000, UserVa, 0x3000);
        _s.MapFixed(_ioas, 0x15000, UserVa, 0x0800);
        _s.MapFixed(_ioas, 0x30000, UserVa, 0x1000); // outside, above

        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, 0x0c000, 0x20000, out var unmapped));

        Assert.Equal(0x1000ul + 0x3000 + 0x800, unmapped);
        var left = _s.Mappings(_ioas);
        Assert.Equal(2, left.Count);
        Assert.Equal(0x08000ul, left[0].Iova.Start);
        Assert.Equal(0x30000ul, left[1].Iova.Start);
    }

    [Fact]
    public void Unmapped_iova_can_be_mapped_again()
    {
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x4000);
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, 0x10000, 0x4000, out _));
        _s.MapFixed(_ioas, 0x10000, UserVa + 0x4000, 0x4000);
        Assert.Equal(UserVa + 0x4000, _s.Translate(_ioas, 0x10000, out _));
    }

    [Fact]
    public void Unmap_after_a_failed_unmap_still_works()
    {
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x4000);
        Assert.Equal(Errno.ENOENT, _s.Unmap(_ioas, 0x10000, 0x1000, out _));
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, 0x10000, 0x4000, out var unmapped));
        Assert.Equal(0x4000ul, unmapped);
    }

    [Fact]
    public void Unmap_of_a_copy_leaves_the_source()
    {
        var src = _s.AllocIoas();
        _s.MapFixed(src, 0x10000, UserVa, 0x4000);
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_ioas, src, 0x10000, 0x4000, 0x50000, Header.ReadWrite | Header.FixedIova), out _));
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, 0, ulong.MaxValue, out var unmapped));
        Assert.Equal(0x4000ul, unmapped);
        Assert.Equal(UserVa, _s.Translate(src, 0x10000, out _));
    }
}
