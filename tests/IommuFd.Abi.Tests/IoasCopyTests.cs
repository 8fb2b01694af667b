using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>IOMMU_IOAS_COPY (ioas.c iommufd_ioas_copy → io_pagetable.c iopt_get_pages, iopt_map_pages).</summary>
public sealed class IoasCopyTests : IDisposable
{
    private const ulong UserVa = 0x7a00_0000_0000;
    private const ulong SrcIova = 0x10_0000;
    private const ulong SrcLength = 0x4000;
    private const uint Fixed = Header.ReadWrite | Header.FixedIova;

    private readonly AbiSession _s = new();
    private readonly uint _src;
    private readonly uint _dst;

    public IoasCopyTests()
    {
        _src = _s.AllocIoas();
        _dst = _s.AllocIoas();
        _s.MapFixed(_src, SrcIova, UserVa, SrcLength);
    }

    public void Dispose() => _s.Dispose();

    // ---- argument checks, in the kernel's order ----

    [Theory]
    [InlineData(1u << 3)]
    [InlineData(1u << 31)]
    [InlineData(Header.ReadWrite | (1u << 8))]
    public void Unknown_flag_is_EOPNOTSUPP(uint flags)
    {
        Assert.Equal(Errno.EOPNOTSUPP, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, flags: flags), out _));
        Assert.Equal(Errno.EOPNOTSUPP, _s.Copy(Cmd.Copy(999, 998, SrcIova, 0, flags: flags), out _));
        Assert.Empty(_s.Mappings(_dst));
    }

    [Fact]
    public void All_ones_length_or_iova_is_EOVERFLOW()
    {
        Assert.Equal(Errno.EOVERFLOW, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, ulong.MaxValue), out _));
        Assert.Equal(Errno.EOVERFLOW, _s.Copy(Cmd.Copy(_dst, _src, ulong.MaxValue, SrcLength), out _));
        Assert.Equal(Errno.EOVERFLOW, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, ulong.MaxValue, Fixed), out _));
        // The destination IOVA is checked even when the engine would choose it.
        Assert.Equal(Errno.EOVERFLOW, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, ulong.MaxValue), out _));
        // Before the permission check and the look-ups.
        Assert.Equal(Errno.EOVERFLOW, _s.Copy(Cmd.Copy(999, 998, ulong.MaxValue, SrcLength, flags: 0), out _));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(Header.FixedIova)]
    public void Neither_readable_nor_writeable_is_EINVAL(uint flags)
    {
        Assert.Equal(Errno.EINVAL, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, 0x50_0000, flags), out _));
        Assert.Equal(Errno.EINVAL, _s.Copy(Cmd.Copy(999, 998, SrcIova, SrcLength, flags: flags), out _));
    }

    [Fact]
    public void Unknown_source_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(_dst, 999, SrcIova, SrcLength), out _));
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(_dst, 0, SrcIova, SrcLength), out _));
        // Looked up before the length is checked.
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(_dst, 999, SrcIova, 0), out _));
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(_dst, _s.AddForeignObject(), SrcIova, SrcLength), out _));
    }

    [Fact]
    public void Zero_length_is_EINVAL()
    {
        Assert.Equal(Errno.EINVAL, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, 0), out _));
        // The source range is checked before the destination is looked up.
        Assert.Equal(Errno.EINVAL, _s.Copy(Cmd.Copy(999, _src, SrcIova, 0), out _));
    }

    [Theory]
    [InlineData(0xffff_ffff_ffff_f000ul, 0x2000ul)]
    [InlineData(0xffff_ffff_ffff_fffeul, 3ul)]
    public void Source_range_that_wraps_is_EOVERFLOW(ulong srcIova, ulong length) =>
        Assert.Equal(Errno.EOVERFLOW, _s.Copy(Cmd.Copy(_dst, _src, srcIova, length), out _));

    [Theory]
    [InlineData(0x20_0000ul, 0x1000ul)] // nothing there
    [InlineData(0x0f_f000ul, 0x2000ul)] // starts before the area
    [InlineData(0x10_3000ul, 0x2000ul)] // runs past its end
    [InlineData(0x0f_0000ul, 0x20000ul)] // covers it
    public void Source_range_not_fully_mapped_is_ENOENT(ulong srcIova, ulong length)
    {
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(_dst, _src, srcIova, length), out _));
        Assert.Empty(_s.Mappings(_dst));
    }

    [Fact]
    public void Source_areas_with_a_gap_are_ENOENT()
    {
        _s.MapFixed(_src, SrcIova + SrcLength + 0x1000, UserVa, 0x1000);
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength + 0x2000), out _));
    }

    [Fact]
    public void Source_next_to_a_reserved_range_is_ENOENT()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_src, SrcIova + SrcLength, SrcIova + SrcLength + 0xfff));
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength + 0x1000), out _));
    }

    [Fact]
    public void Unknown_destination_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(999, _src, SrcIova, SrcLength), out _));
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(0, _src, SrcIova, SrcLength, 0x50_0000, Fixed), out _));
        Assert.Equal(Errno.ENOENT, _s.Copy(Cmd.Copy(_s.AddForeignObject(), _src, SrcIova, SrcLength), out _));
    }

    [Theory]
    [InlineData(0x50_0000ul)] // same range
    [InlineData(0x4f_e000ul)] // overlaps the start
    [InlineData(0x50_3000ul)] // overlaps the end
    public void Fixed_destination_overlapping_a_mapping_is_EEXIST(ulong dstIova)
    {
        _s.MapFixed(_dst, 0x50_0000, UserVa, 0x4000);
        Assert.Equal(Errno.EEXIST, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, dstIova, Fixed), out _));
        Assert.Single(_s.Mappings(_dst));
    }

    [Fact]
    public void Fixed_destination_in_a_reserved_range_is_EINVAL()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_dst, 0x50_0000, 0x50_ffff));
        Assert.Equal(Errno.EINVAL, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, 0x50_2000, Fixed), out _));
    }

    [Fact]
    public void Fixed_destination_that_wraps_is_EOVERFLOW() =>
        Assert.Equal(Errno.EOVERFLOW, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, 0xffff_ffff_ffff_f000, Fixed), out _));

    [Fact]
    public void Writeable_copy_of_a_read_only_mapping_is_EPERM()
    {
        _s.MapFixed(_src, 0x20_0000, UserVa, 0x2000, Header.Readable);
        Assert.Equal(Errno.EPERM, _s.Copy(Cmd.Copy(_dst, _src, 0x20_0000, 0x2000, flags: Header.Writeable), out _));
        Assert.Equal(Errno.EPERM, _s.Copy(Cmd.Copy(_dst, _src, 0x20_0000, 0x2000, 0x50_0000, Fixed), out _));
        Assert.Empty(_s.Mappings(_dst));

        // Reading it is fine.
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_dst, _src, 0x20_0000, 0x2000, flags: Header.Readable), out var after));
        Assert.NotNull(_s.Translate(_dst, after.DstIova, out var prot));
        Assert.Equal(IoProt.Read, prot & (IoProt.Read | IoProt.Write));
    }

    [Fact]
    public void Read_only_copy_of_a_writeable_mapping_is_fine()
    {
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, flags: Header.Readable), out var after));
        Assert.NotNull(_s.Translate(_dst, after.DstIova, out var prot));
        Assert.Equal(IoProt.Read, prot & (IoProt.Read | IoProt.Write));
    }

    // ---- what a successful COPY records ----

    [Fact]
    public void Copy_to_a_fixed_iova_maps_the_same_user_memory()
    {
        var cmd = Cmd.Copy(_dst, _src, SrcIova, SrcLength, 0x50_0000, Fixed);
        Assert.Equal(Errno.Ok, _s.Copy(cmd, out var after));
        Assert.Equal(cmd, after);

        var mapping = Assert.Single(_s.Mappings(_dst));
        Assert.Equal(new IovaRange(0x50_0000, 0x50_3fff), mapping.Iova);
        Assert.Equal(UserVa, mapping.UserAddress);
        for (ulong offset = 0; offset < SrcLength; offset += 0x800)
            Assert.Equal(UserVa + offset, _s.Translate(_dst, 0x50_0000 + offset, out _));
        // The source is untouched.
        Assert.Equal(UserVa, Assert.Single(_s.Mappings(_src)).UserAddress);
    }

    [Fact]
    public void Copy_to_an_automatic_iova_writes_it_back()
    {
        var cmd = Cmd.Copy(_dst, _src, SrcIova, SrcLength, dstIova: 0x9999_0000);
        Assert.Equal(Errno.Ok, _s.Copy(cmd, out var after));
        // Alignment as for MAP: min(roundup_pow_of_two(16 KiB), lowest bit of the user address).
        Assert.Equal(0x4000ul, after.DstIova);
        Assert.Equal(cmd with { DstIova = 0x4000 }, after);
        Assert.Equal(UserVa + 0x123, _s.Translate(_dst, 0x4123, out _));
    }

    [Fact]
    public void Sub_range_of_an_area_can_be_copied()
    {
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_dst, _src, SrcIova + 0x1800, 0x1000, 0x50_0800, Fixed), out _));
        var mapping = Assert.Single(_s.Mappings(_dst));
        Assert.Equal(new IovaRange(0x50_0800, 0x50_17ff), mapping.Iova);
        Assert.Equal(UserVa + 0x1800, mapping.UserAddress);
        Assert.Equal(UserVa + 0x1800, _s.Translate(_dst, 0x50_0800, out _));
        Assert.Equal(UserVa + 0x27ff, _s.Translate(_dst, 0x50_17ff, out _));
        Assert.Null(_s.Translate(_dst, 0x50_1800, out _));
    }

    [Fact]
    public void Sub_range_copied_automatically_keeps_its_page_offset()
    {
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_dst, _src, SrcIova + 0x1234, 0x100), out var after));
        Assert.Equal(0x234ul, after.DstIova % 0x1000);
        Assert.Equal(UserVa + 0x1234, _s.Translate(_dst, after.DstIova, out _));
    }

    [Fact]
    public void Contiguous_source_areas_can_be_copied_as_one_range()
    {
        const ulong secondUser = 0x7b00_0000_0000;
        _s.MapFixed(_src, SrcIova + SrcLength, secondUser, 0x2000);
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_dst, _src, SrcIova + 0x3000, 0x3000, 0x50_0000, Fixed), out _));

        Assert.Equal(UserVa + 0x3000, _s.Translate(_dst, 0x50_0000, out _));
        Assert.Equal(secondUser, _s.Translate(_dst, 0x50_1000, out _));
        Assert.Equal(secondUser + 0x1fff, _s.Translate(_dst, 0x50_2fff, out _));
        var ranges = _s.Mappings(_dst).Select(m => m.Iova).ToArray();
        Assert.Equal(0x50_0000ul, ranges[0].Start);
        Assert.Equal(0x50_2fffUL, ranges[^1].Last);
    }

    [Fact]
    public void Copy_within_the_same_ioas_works()
    {
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_src, _src, SrcIova, SrcLength, 0x50_0000, Fixed), out _));
        Assert.Equal(2, _s.Mappings(_src).Count);
        Assert.Equal(UserVa + 0x10, _s.Translate(_src, 0x50_0010, out _));
        Assert.Equal(UserVa + 0x10, _s.Translate(_src, SrcIova + 0x10, out _));
    }

    [Fact]
    public void Copy_within_the_same_ioas_onto_its_source_is_EEXIST() =>
        Assert.Equal(Errno.EEXIST, _s.Copy(Cmd.Copy(_src, _src, SrcIova, SrcLength, SrcIova, Fixed), out _));

    [Fact]
    public void Copy_survives_unmapping_the_source()
    {
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength, 0x50_0000, Fixed), out _));
        Assert.Equal(Errno.Ok, _s.Unmap(_src, 0, ulong.MaxValue, out _));
        Assert.Equal(UserVa + 0x2000, _s.Translate(_dst, 0x50_2000, out _));
    }

    [Fact]
    public void Copy_respects_the_destination_allowed_ranges()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_dst, new IommuIovaRange { Start = 0x80_0000, Last = 0x80_ffff }));
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength), out var after));
        Assert.Equal(0x80_0000ul, after.DstIova);

        Assert.Equal(Errno.Ok, _s.AllowIovas(_dst, new IommuIovaRange { Start = 0x90_0000, Last = 0x90_0fff }));
        Assert.Equal(Errno.ENOSPC, _s.Copy(Cmd.Copy(_dst, _src, SrcIova, SrcLength), out _));
    }
}
