using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_OPTION (main.c iommufd_option, iommufd_option_rlimit_mode; ioas.c iommufd_ioas_option,
/// io_pagetable.c iopt_disable_large_pages). The kernel's CAP_SYS_RESOURCE check for setting
/// RLIMIT_MODE has no counterpart here.
/// </summary>
public sealed class OptionTests : IDisposable
{
    private const ulong UserVa = 0x7a00_0000_0000;

    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    // ---- common ----

    [Theory]
    [InlineData(Header.OptionRlimitMode, Header.OpGet)]
    [InlineData(Header.OptionRlimitMode, Header.OpSet)]
    [InlineData(Header.OptionHugePages, Header.OpGet)]
    [InlineData(2u, Header.OpGet)]
    public void Reserved_field_is_EOPNOTSUPP(uint optionId, ushort op)
    {
        var cmd = Cmd.Option(optionId, op, val64: 0x55) with { Reserved = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, _s.Option(ref cmd));
        Assert.Equal(0x55ul, cmd.Val64);
    }

    [Theory]
    [InlineData(2u)]
    [InlineData(3u)]
    [InlineData(0xffff_ffffu)]
    public void Unknown_option_is_EOPNOTSUPP(uint optionId)
    {
        var cmd = Cmd.Option(optionId, Header.OpGet, val64: 0x55);
        Assert.Equal(Errno.EOPNOTSUPP, _s.Option(ref cmd));
        Assert.Equal(0x55ul, cmd.Val64);
        cmd = Cmd.Option(optionId, Header.OpSet, _s.AllocIoas());
        Assert.Equal(Errno.EOPNOTSUPP, _s.Option(ref cmd));
    }

    // ---- IOMMU_OPTION_RLIMIT_MODE ----

    [Theory]
    [InlineData(Header.OpGet)]
    [InlineData(Header.OpSet)]
    [InlineData((ushort)2)]
    public void Rlimit_mode_with_an_object_id_is_EOPNOTSUPP(ushort op)
    {
        var cmd = Cmd.Option(Header.OptionRlimitMode, op, objectId: 1, val64: 0x55);
        Assert.Equal(Errno.EOPNOTSUPP, _s.Option(ref cmd));
        Assert.Equal(0x55ul, cmd.Val64);
    }

    [Fact]
    public void Rlimit_mode_is_zero_by_default()
    {
        Assert.Equal(0ul, _s.GetOption(Header.OptionRlimitMode));
        _s.AllocIoas();
        Assert.Equal(0ul, _s.GetOption(Header.OptionRlimitMode));
    }

    [Fact]
    public void Rlimit_mode_can_be_set_on_an_empty_context()
    {
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionRlimitMode, 1));
        Assert.Equal(1ul, _s.GetOption(Header.OptionRlimitMode));
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionRlimitMode, 0));
        Assert.Equal(0ul, _s.GetOption(Header.OptionRlimitMode));
    }

    [Fact]
    public void Rlimit_mode_set_with_any_object_is_EBUSY()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.EBUSY, _s.SetOption(Header.OptionRlimitMode, 1));
        Assert.Equal(Errno.EBUSY, _s.SetOption(Header.OptionRlimitMode, 0));
        // Busy is decided before the value is looked at.
        Assert.Equal(Errno.EBUSY, _s.SetOption(Header.OptionRlimitMode, 2));
        Assert.Equal(0ul, _s.GetOption(Header.OptionRlimitMode));

        // Once the context is empty again the mode may change.
        Assert.Equal(Errno.Ok, _s.Destroy(ioas));
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionRlimitMode, 1));
    }

    [Fact]
    public void Rlimit_mode_set_with_an_object_of_another_kind_is_EBUSY()
    {
        _s.AddForeignObject();
        Assert.Equal(Errno.EBUSY, _s.SetOption(Header.OptionRlimitMode, 1));
    }

    [Theory]
    [InlineData(2ul)]
    [InlineData(0x1_0000_0000ul)]
    [InlineData(ulong.MaxValue)]
    public void Rlimit_mode_value_other_than_zero_or_one_is_EINVAL(ulong value)
    {
        Assert.Equal(Errno.EINVAL, _s.SetOption(Header.OptionRlimitMode, value));
        Assert.Equal(0ul, _s.GetOption(Header.OptionRlimitMode));
    }

    [Theory]
    [InlineData((ushort)2)]
    [InlineData((ushort)0xffff)]
    public void Rlimit_mode_unknown_op_is_EOPNOTSUPP(ushort op)
    {
        var cmd = Cmd.Option(Header.OptionRlimitMode, op, val64: 0x55);
        Assert.Equal(Errno.EOPNOTSUPP, _s.Option(ref cmd));
        Assert.Equal(0x55ul, cmd.Val64);
    }

    // ---- IOMMU_OPTION_HUGE_PAGES ----

    [Theory]
    [InlineData(Header.OpGet)]
    [InlineData(Header.OpSet)]
    [InlineData((ushort)2)]
    public void Huge_pages_on_an_unknown_ioas_is_ENOENT(ushort op)
    {
        var cmd = Cmd.Option(Header.OptionHugePages, op, objectId: 999, val64: 7);
        Assert.Equal(Errno.ENOENT, _s.Option(ref cmd));
        Assert.Equal(7ul, cmd.Val64);
        cmd = Cmd.Option(Header.OptionHugePages, op, objectId: 0, val64: 7);
        Assert.Equal(Errno.ENOENT, _s.Option(ref cmd));
        cmd = Cmd.Option(Header.OptionHugePages, op, objectId: _s.AddForeignObject(), val64: 7);
        Assert.Equal(Errno.ENOENT, _s.Option(ref cmd));
    }

    [Fact]
    public void Huge_pages_are_enabled_by_default()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(1ul, _s.GetOption(Header.OptionHugePages, ioas));
    }

    [Fact]
    public void Disabling_huge_pages_raises_the_iova_alignment_to_a_page()
    {
        var ioas = _s.AllocIoas();
        var other = _s.AllocIoas();

        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 0, ioas));

        Assert.Equal(0ul, _s.GetOption(Header.OptionHugePages, ioas));
        _s.IovaRanges(ioas, out var alignment);
        Assert.Equal(4096ul, alignment);
        Assert.Equal(Errno.EINVAL, _s.Map(ioas, UserVa, 2048));

        // The option belongs to one IOAS.
        Assert.Equal(1ul, _s.GetOption(Header.OptionHugePages, other));
        _s.IovaRanges(other, out alignment);
        Assert.Equal(1ul, alignment);
        _s.MapAuto(other, UserVa, 2048);
    }

    [Fact]
    public void Re_enabling_huge_pages_restores_alignment_one()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 0, ioas));
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 0, ioas)); // twice is fine
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 1, ioas));
        Assert.Equal(1ul, _s.GetOption(Header.OptionHugePages, ioas));
        _s.IovaRanges(ioas, out var alignment);
        Assert.Equal(1ul, alignment);
        _s.MapAuto(ioas, UserVa, 2048);
    }

    [Theory]
    [InlineData(2ul)]
    [InlineData(ulong.MaxValue)]
    public void Huge_pages_value_other_than_zero_or_one_is_EINVAL(ulong value)
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.EINVAL, _s.SetOption(Header.OptionHugePages, value, ioas));
        Assert.Equal(1ul, _s.GetOption(Header.OptionHugePages, ioas));
    }

    [Theory]
    [InlineData((ushort)2)]
    [InlineData((ushort)0xffff)]
    public void Huge_pages_unknown_op_is_EOPNOTSUPP(ushort op)
    {
        var ioas = _s.AllocIoas();
        var cmd = Cmd.Option(Header.OptionHugePages, op, ioas, 0x55);
        Assert.Equal(Errno.EOPNOTSUPP, _s.Option(ref cmd));
        Assert.Equal(0x55ul, cmd.Val64);
    }

    [Fact]
    public void Disabling_huge_pages_with_an_unaligned_mapping_is_EADDRINUSE()
    {
        // iopt_calculate_iova_alignment → iopt_check_iova_alignment refuses a larger alignment
        // that an existing area does not meet.
        var ioas = _s.AllocIoas();
        _s.MapFixed(ioas, 0x10800, UserVa, 0x800);
        Assert.Equal(Errno.EADDRINUSE, _s.SetOption(Header.OptionHugePages, 0, ioas));
        Assert.Equal(1ul, _s.GetOption(Header.OptionHugePages, ioas));
        _s.IovaRanges(ioas, out var alignment);
        Assert.Equal(1ul, alignment);
    }

    [Fact]
    public void Disabling_huge_pages_with_aligned_mappings_and_no_domain_is_fine()
    {
        var ioas = _s.AllocIoas();
        _s.MapFixed(ioas, 0x10000, UserVa, 0x2000);
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 0, ioas));
        Assert.Equal(0ul, _s.GetOption(Header.OptionHugePages, ioas));
    }

    // ---- what is written back ----

    [Fact]
    public void Get_writes_only_val64()
    {
        var ioas = _s.AllocIoas();
        const int userSize = Header.OptionSize + 8;
        var arg = _s.Heap.Alloc(userSize + 8);
        var cmd = Cmd.Option(Header.OptionHugePages, Header.OpGet, ioas, 0xdead) with { Size = userSize };
        _s.Heap.Write(arg, cmd);
        _s.Heap.WriteBytes(arg + userSize, [0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c, 0x3c]);

        Assert.Equal(Errno.Ok, _s.IoctlAt<IommuOption>(arg, out var after));

        Assert.Equal(cmd with { Val64 = 1 }, after);
        Assert.All(_s.Heap.ReadBytes(arg + Header.OptionSize, 8), b => Assert.Equal(0, b));
        Assert.All(_s.Heap.ReadBytes(arg + userSize, 8), b => Assert.Equal(0x3c, b));
    }

    [Fact]
    public void Set_writes_val64_back_unchanged()
    {
        var ioas = _s.AllocIoas();
        var cmd = Cmd.Option(Header.OptionHugePages, Header.OpSet, ioas, 0);
        var before = cmd;
        Assert.Equal(Errno.Ok, _s.Option(ref cmd));
        Assert.Equal(before, cmd);
    }

    [Fact]
    public void Failed_val64_copy_back_is_EFAULT_after_the_option_took_effect()
    {
        // val64 sits in a read-only page and reads as 0: SET HUGE_PAGES 0 is applied, then the
        // copy of val64 back to the caller fails.
        var ioas = _s.AllocIoas();
        var arg = _s.Heap.AllocStraddlingReadOnly(16);
        var cmd = Cmd.Option(Header.OptionHugePages, Header.OpSet, ioas);
        _s.Heap.WritePrefix(arg, cmd, 16);

        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.Option, arg));
        Assert.Equal(0ul, _s.GetOption(Header.OptionHugePages, ioas));
    }
}
