using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_IOAS_MAP (ioas.c iommufd_ioas_map → io_pagetable.c iopt_map_user_pages,
/// iopt_alloc_iova, iopt_check_iova; pages.c iopt_alloc_user_pages).
/// </summary>
public sealed class IoasMapTests : IDisposable
{
    private const ulong Page = 0x1000;
    private const ulong UserVa = 0x7a00_0000_0000;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;

    public IoasMapTests() => _ioas = _s.AllocIoas();

    public void Dispose() => _s.Dispose();

    // ---- argument checks, in the kernel's order ----

    [Theory]
    [InlineData(1u << 3)]
    [InlineData(1u << 31)]
    [InlineData(Header.ReadWrite | (1u << 4))]
    public void Unknown_flag_is_EOPNOTSUPP(uint flags)
    {
        Assert.Equal(Errno.EOPNOTSUPP, _s.Map(_ioas, UserVa, Page, flags: flags));
        // Checked before the IOAS is looked up.
        Assert.Equal(Errno.EOPNOTSUPP, _s.Map(999, UserVa, Page, flags: flags));
        Assert.Empty(_s.Mappings(_ioas));
    }

    [Fact]
    public void Reserved_field_is_EOPNOTSUPP()
    {
        Assert.Equal(Errno.EOPNOTSUPP, _s.Map(Cmd.Map(_ioas, UserVa, Page) with { Reserved = 1 }, out _));
        Assert.Equal(Errno.EOPNOTSUPP, _s.Map(Cmd.Map(999, UserVa, Page) with { Reserved = 0x8000_0000 }, out _));
    }

    [Fact]
    public void All_ones_iova_or_length_is_EOVERFLOW()
    {
        Assert.Equal(Errno.EOVERFLOW, _s.Map(_ioas, UserVa, Page, iova: ulong.MaxValue));
        Assert.Equal(Errno.EOVERFLOW, _s.Map(_ioas, UserVa, Page, iova: ulong.MaxValue, flags: Header.ReadWrite | Header.FixedIova));
        Assert.Equal(Errno.EOVERFLOW, _s.Map(_ioas, 0, ulong.MaxValue));
        // Before the permission check and the IOAS look-up.
        Assert.Equal(Errno.EOVERFLOW, _s.Map(999, UserVa, ulong.MaxValue, flags: 0));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(Header.FixedIova)]
    public void Neither_readable_nor_writeable_is_EINVAL(uint flags)
    {
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa, Page, iova: 0x10000, flags: flags));
        // Before the IOAS look-up.
        Assert.Equal(Errno.EINVAL, _s.Map(999, UserVa, Page, flags: flags));
    }

    [Fact]
    public void Unknown_ioas_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, _s.Map(0, UserVa, Page));
        Assert.Equal(Errno.ENOENT, _s.Map(_ioas + 1, UserVa, Page));
        // The look-up comes before the length and address checks.
        Assert.Equal(Errno.ENOENT, _s.Map(999, UserVa, 0));
        Assert.Equal(Errno.ENOENT, _s.Map(999, ulong.MaxValue - Page + 1, Page));
    }

    [Fact]
    public void Id_of_another_object_kind_is_ENOENT()
    {
        var foreign = _s.AddForeignObject();
        Assert.Equal(Errno.ENOENT, _s.Map(foreign, UserVa, Page));
    }

    [Theory]
    [InlineData(0xffff_ffff_ffff_f000ul, 0x1000ul)]
    [InlineData(0xffff_ffff_ffff_ffffUL, 1ul)]
    [InlineData(0x8000_0000_0000_0000ul, 0x8000_0000_0000_0000ul)]
    public void User_range_that_wraps_is_EOVERFLOW(ulong userVa, ulong length)
    {
        Assert.Equal(Errno.EOVERFLOW, _s.Map(_ioas, userVa, length));
        Assert.Equal(Errno.EOVERFLOW, _s.Map(_ioas, userVa, length, iova: 0x10000, flags: Header.ReadWrite | Header.FixedIova));
    }

    [Fact]
    public void Zero_length_is_EINVAL()
    {
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa, 0));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa, 0, iova: 0x10000, flags: Header.ReadWrite | Header.FixedIova));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, ulong.MaxValue, 0));
    }

    [Fact]
    public void Length_past_size_max_minus_a_page_is_EINVAL()
    {
        // pages.c: length > SIZE_MAX - PAGE_SIZE is refused once the user range does not wrap.
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, 0, ulong.MaxValue - 1));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, 0, ulong.MaxValue - Page + 1));
    }

    [Fact]
    public void Automatic_iova_for_half_the_address_space_is_EOVERFLOW()
    {
        // iopt_alloc_iova protects roundup_pow_of_two(): length >= ULONG_MAX / 2 is EOVERFLOW.
        Assert.Equal(Errno.EOVERFLOW, _s.Map(_ioas, 0, 0x8000_0000_0000_0000));
    }

    // ---- fixed IOVA ----

    [Fact]
    public void Fixed_iova_is_used_and_written_back()
    {
        var cmd = Cmd.MapFixed(_ioas, 0x40_0000, UserVa, 4 * Page);
        Assert.Equal(Errno.Ok, _s.Map(cmd, out var after));
        Assert.Equal(0x40_0000ul, after.Iova);
        Assert.Equal(cmd, after);

        var mapping = Assert.Single(_s.Mappings(_ioas));
        Assert.Equal(new IovaRange(0x40_0000, 0x40_3fff), mapping.Iova);
        Assert.Equal(UserVa, mapping.UserAddress);
        Assert.Equal(UserVa + 0x1234, _s.Translate(_ioas, 0x40_1234, out var prot));
        Assert.Equal(IoProt.Read | IoProt.Write, prot & (IoProt.Read | IoProt.Write));
    }

    [Fact]
    public void Fixed_iova_zero_is_allowed()
    {
        // Only automatic allocation avoids IOVA 0; iopt_check_iova does not.
        _s.MapFixed(_ioas, 0, UserVa, Page);
        Assert.Equal(UserVa, _s.Translate(_ioas, 0, out _));
    }

    [Theory]
    [InlineData(0x10000ul, 0x4000ul)] // exactly the same range
    [InlineData(0x0f000ul, 0x2000ul)] // overlaps the first page
    [InlineData(0x13000ul, 0x2000ul)] // overlaps the last page
    [InlineData(0x11000ul, 0x1000ul)] // inside
    [InlineData(0x08000ul, 0x20000ul)] // covers it
    [InlineData(0x13ffful, 1ul)] // the last byte only
    public void Fixed_iova_overlapping_a_mapping_is_EEXIST(ulong iova, ulong length)
    {
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x4000);
        Assert.Equal(Errno.EEXIST, _s.Map(_ioas, UserVa, length, iova, Header.ReadWrite | Header.FixedIova));
        Assert.Single(_s.Mappings(_ioas));
    }

    [Fact]
    public void Fixed_iova_adjacent_to_a_mapping_is_fine()
    {
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x4000);
        _s.MapFixed(_ioas, 0x14000, UserVa, 0x1000);
        _s.MapFixed(_ioas, 0x0f000, UserVa, 0x1000);
        Assert.Equal(3, _s.Mappings(_ioas).Count);
    }

    [Theory]
    [InlineData(0x20000ul, 0x1000ul)] // inside the reserved range
    [InlineData(0x1f000ul, 0x2000ul)] // touches its first byte
    [InlineData(0x2fffful, 1ul)] // its last byte
    [InlineData(0x00000ul, 0x100000ul)] // covers it
    public void Fixed_iova_intersecting_a_reserved_range_is_EINVAL(ulong iova, ulong length)
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x20000, 0x2ffff));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa, length, iova, Header.ReadWrite | Header.FixedIova));
        Assert.Empty(_s.Mappings(_ioas));
    }

    [Fact]
    public void Reserved_range_wins_over_an_existing_mapping()
    {
        // iopt_check_iova tests reserved IOVA (EINVAL) before existing areas (EEXIST).
        _s.MapFixed(_ioas, 0x10000, UserVa, 0x1000);
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x20000, 0x20fff));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa, 0x20000, 0x8000, Header.ReadWrite | Header.FixedIova));
    }

    [Theory]
    [InlineData(0xffff_ffff_ffff_f000ul, 0x2000ul)]
    [InlineData(0xffff_ffff_ffff_fffeul, 3ul)]
    public void Fixed_iova_range_that_wraps_is_EOVERFLOW(ulong iova, ulong length)
    {
        Assert.Equal(Errno.EOVERFLOW, _s.Map(_ioas, 0x1000, length, iova, Header.ReadWrite | Header.FixedIova));
    }

    [Fact]
    public void Fixed_iova_reaching_the_last_byte_below_all_ones_is_fine()
    {
        // iova + length - 1 == U64_MAX - 1: no wrap, and neither field is all ones.
        _s.MapFixed(_ioas, 0xffff_ffff_ffff_f000, 0x1000, 0xfff);
        Assert.Equal(new IovaRange(0xffff_ffff_ffff_f000, 0xffff_ffff_ffff_fffe), Assert.Single(_s.Mappings(_ioas)).Iova);
    }

    [Fact]
    public void Fixed_iova_outside_the_allowed_ranges_is_fine()
    {
        // Allowed ranges steer automatic allocation only; iopt_check_iova ignores them.
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, new IommuIovaRange { Start = 0x100000, Last = 0x1fffff }));
        _s.MapFixed(_ioas, 0x500000, UserVa, Page);
    }

    // ---- automatic IOVA ----

    [Fact]
    public void Automatic_iova_is_written_back_and_never_zero()
    {
        var cmd = Cmd.Map(_ioas, 0, Page, iova: 0x7777_0000);
        Assert.Equal(Errno.Ok, _s.Map(cmd, out var after));
        Assert.Equal(Page, after.Iova);
        Assert.Equal(cmd with { Iova = Page }, after);

        // Even a one-byte mapping of an unaligned address does not get IOVA 0.
        var iova = _s.MapAuto(_ioas, 0x123, 1);
        Assert.NotEqual(0ul, iova);
        Assert.Equal(0x123ul, iova % Page);
    }

    [Fact]
    public void Automatic_iova_ignores_the_callers_iova()
    {
        var cmd = Cmd.Map(_ioas, UserVa, Page, iova: 0x5000_0000);
        Assert.Equal(Errno.Ok, _s.Map(cmd, out var after));
        Assert.Equal(Page, after.Iova);
    }

    [Theory]
    [InlineData(0x0000_0000ul, 0x1000ul, 0x1000ul)] // no user alignment: roundup_pow_of_two(length)
    [InlineData(0x0000_0000ul, 0x3000ul, 0x4000ul)]
    [InlineData(0x0001_0000ul, 0x20_0000ul, 0x1_0000ul)] // min(2 MiB, 64 KiB) = 64 KiB
    [InlineData(0x0020_0000ul, 0x20_0000ul, 0x20_0000ul)] // 2 MiB aligned both ways
    [InlineData(0x0004_0000ul, 0x8000ul, 0x8000ul)] // min(32 KiB, 256 KiB) = 32 KiB
    public void Automatic_iova_keeps_the_user_alignment(ulong userVa, ulong length, ulong expected)
    {
        var iova = _s.MapAuto(_ioas, userVa, length);
        Assert.Equal(expected, iova);
    }

    [Fact]
    public void Automatic_iova_alignment_is_capped_at_the_huge_page_size()
    {
        // iopt_alloc_iova caps the alignment at max_alignment = HPAGE_SIZE (2 MiB on x86-64 with
        // CONFIG_TRANSPARENT_HUGEPAGE; PAGE_SIZE without it) to protect ALIGN() from overflow.
        // A 4 MiB mapping of a 1 GiB-aligned address therefore lands at 2 MiB, not at 4 MiB.
        var iova = _s.MapAuto(_ioas, 0x4000_0000, 0x40_0000);
        Assert.Equal(0x20_0000ul, iova);
    }

    [Fact]
    public void Automatic_iova_for_a_large_unaligned_length_is_capped_too()
    {
        // user_va 0: alignment is roundup_pow_of_two(1 GiB) = 1 GiB before the 2 MiB cap.
        var iova = _s.MapAuto(_ioas, 0, 0x4000_0000);
        Assert.Equal(0x20_0000ul, iova);
    }

    [Theory]
    [InlineData(0x1_2345ul, 0x100ul, 0x1345ul)] // alignment 1: page start 0x1000 | 0x345
    [InlineData(0x1_0800ul, 0x1000ul, 0x1800ul)] // alignment 0x800
    [InlineData(0x7a00_0000_0ff0ul, 0x20ul, 0x1ff0ul)] // alignment 0x10: ALIGN(0x1000, 0x10) | 0xff0
    public void Automatic_iova_keeps_the_page_offset(ulong userVa, ulong length, ulong expected)
    {
        var iova = _s.MapAuto(_ioas, userVa, length);
        Assert.Equal(expected, iova);
        Assert.Equal(userVa % Page, iova % Page);
        Assert.Equal(userVa, _s.Translate(_ioas, iova, out _));
    }

    [Fact]
    public void Automatic_iova_skips_mappings_and_reserved_ranges()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x1000, 0x1fff));
        _s.MapFixed(_ioas, 0x3000, UserVa, Page);

        Assert.Equal(0x2000ul, _s.MapAuto(_ioas, UserVa, Page));
        Assert.Equal(0x4000ul, _s.MapAuto(_ioas, UserVa, Page));
        Assert.Equal(0x6000ul, _s.MapAuto(_ioas, UserVa, 0x2000));
    }

    [Fact]
    public void Automatic_iova_finds_the_hole_between_reserved_ranges()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0, 0xf_ffff));
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x20_0000, ulong.MaxValue));
        Assert.Equal(0x10_0000ul, _s.MapAuto(_ioas, UserVa, 0x8_0000));
        Assert.Equal(0x18_0000ul, _s.MapAuto(_ioas, UserVa, 0x8_0000));
        Assert.Equal(Errno.ENOSPC, _s.Map(_ioas, UserVa, 0x1000));
    }

    [Fact]
    public void Automatic_iova_never_uses_the_top_page()
    {
        // The search window is [PAGE_SIZE, ULONG_MAX - PAGE_SIZE].
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0, 0xffff_ffff_ffff_dfff));
        Assert.Equal(0xffff_ffff_ffff_e000ul, _s.MapAuto(_ioas, UserVa, Page));
        Assert.Equal(Errno.ENOSPC, _s.Map(_ioas, UserVa, 1));
        // A fixed mapping may still use it.
        _s.MapFixed(_ioas, 0xffff_ffff_ffff_f000, UserVa, 0xfff);
    }

    [Fact]
    public void Automatic_iova_stays_inside_the_allowed_ranges()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas,
            new IommuIovaRange { Start = 0x10_0000, Last = 0x10_1fff },
            new IommuIovaRange { Start = 0x80_0000, Last = 0x8f_ffff }));

        Assert.Equal(0x10_0000ul, _s.MapAuto(_ioas, UserVa, Page));
        Assert.Equal(0x10_1000ul, _s.MapAuto(_ioas, UserVa, Page));
        // The first range is full; the next mapping goes to the second.
        Assert.Equal(0x80_0000ul, _s.MapAuto(_ioas, UserVa, Page));
        foreach (var m in _s.Mappings(_ioas))
            Assert.True(m.Iova.Start is >= 0x10_0000 and <= 0x10_1fff || m.Iova.Start is >= 0x80_0000 and <= 0x8f_ffff);
    }

    [Fact]
    public void Adjacent_allowed_ranges_form_one_span()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas,
            new IommuIovaRange { Start = 0x10_0000, Last = 0x10_0fff },
            new IommuIovaRange { Start = 0x10_1000, Last = 0x10_1fff }));
        Assert.Equal(0x10_0000ul, _s.MapAuto(_ioas, UserVa, 0x2000));
    }

    [Fact]
    public void Allowed_range_smaller_than_the_length_is_ENOSPC()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, new IommuIovaRange { Start = 0x10_0000, Last = 0x10_0fff }));
        Assert.Equal(Errno.ENOSPC, _s.Map(_ioas, UserVa, 0x2000));
        Assert.Empty(_s.Mappings(_ioas));
    }

    [Fact]
    public void Allowed_range_below_the_first_page_is_ENOSPC()
    {
        // Automatic allocation searches [PAGE_SIZE, ULONG_MAX - PAGE_SIZE] only.
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, new IommuIovaRange { Start = 0, Last = 0xfff }));
        Assert.Equal(Errno.ENOSPC, _s.Map(_ioas, 0x10, 0x10));
    }

    [Fact]
    public void Allowed_range_too_small_once_aligned_is_ENOSPC()
    {
        // 0x10_0800..0x10_17ff is 4 KiB long, but a 4 KiB-aligned 4 KiB IOVA does not fit in it.
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, new IommuIovaRange { Start = 0x10_0800, Last = 0x10_17ff }));
        Assert.Equal(Errno.ENOSPC, _s.Map(_ioas, UserVa, Page));
    }

    [Fact]
    public void Full_allowed_range_is_ENOSPC()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, new IommuIovaRange { Start = 0x10_0000, Last = 0x10_1fff }));
        _s.MapAuto(_ioas, UserVa, 0x2000);
        Assert.Equal(Errno.ENOSPC, _s.Map(_ioas, UserVa, Page));
    }

    [Fact]
    public void Reserved_everything_is_ENOSPC()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0, ulong.MaxValue));
        Assert.Equal(Errno.ENOSPC, _s.Map(_ioas, UserVa, Page));
    }

    // ---- what a successful MAP records ----

    [Fact]
    public void Unmapped_user_memory_can_be_mapped_without_a_domain()
    {
        // Without a domain the kernel only takes a lazy reference; nothing is pinned yet.
        Assert.Equal(Errno.EFAULT, _s.Memory.Read(UserVa, new byte[1]));
        var iova = _s.MapAuto(_ioas, UserVa, 16 * Page);
        Assert.Equal(UserVa, _s.Translate(_ioas, iova, out _));
        Assert.Equal(0ul, _s.Memory.PinnedPages);
    }

    [Theory]
    [InlineData(Header.Readable, IoProt.Read)]
    [InlineData(Header.Writeable, IoProt.Write)]
    [InlineData(Header.ReadWrite, IoProt.Read | IoProt.Write)]
    public void Permissions_follow_the_flags(uint flags, IoProt expected)
    {
        var iova = _s.MapAuto(_ioas, UserVa, Page, flags);
        Assert.NotNull(_s.Translate(_ioas, iova, out var prot));
        Assert.Equal(expected, prot & (IoProt.Read | IoProt.Write));
        // conv_iommu_prot always adds IOMMU_CACHE.
        Assert.True(prot.HasFlag(IoProt.Cache));
    }

    [Fact]
    public void Failed_copy_back_is_EFAULT_but_the_mapping_stays()
    {
        // ioas.c: iopt_map_user_pages() has already succeeded when iommufd_ucmd_respond() fails,
        // and the kernel returns EFAULT without undoing the mapping. The iova field sits in a
        // read-only page (it reads as 0, fine for an automatic IOVA).
        var arg = _s.Heap.AllocStraddlingReadOnly(32);
        var cmd = Cmd.Map(_ioas, UserVa, Page);
        _s.Heap.WritePrefix(arg, cmd, 32);

        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.IoasMap, arg));

        var mapping = Assert.Single(_s.Mappings(_ioas));
        Assert.Equal(UserVa, mapping.UserAddress);
    }

    // ---- alignment after huge pages are disabled ----

    [Fact]
    public void With_huge_pages_disabled_unaligned_length_is_EINVAL()
    {
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 0, _ioas));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa, 2048));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa, 2048, 0x10000, Header.ReadWrite | Header.FixedIova));
    }

    [Fact]
    public void With_huge_pages_disabled_unaligned_iova_or_user_address_is_EINVAL()
    {
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 0, _ioas));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa, Page, 0x10800, Header.ReadWrite | Header.FixedIova));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa + 0x800, Page));
        Assert.Equal(Errno.EINVAL, _s.Map(_ioas, UserVa + 0x800, Page, 0x10000, Header.ReadWrite | Header.FixedIova));
        Assert.Equal(Page, _s.MapAuto(_ioas, UserVa, Page));
    }
}
