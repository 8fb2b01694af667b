using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_IOAS_ALLOW_IOVAS (ioas.c iommufd_ioas_allow_iovas, iommufd_ioas_load_iovas;
/// io_pagetable.c iopt_set_allow_iova, iopt_reserve_iova).
/// </summary>
public sealed class IoasAllowIovasTests : IDisposable
{
    private const ulong UserVa = 0x7a00_0000_0000;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;

    public IoasAllowIovasTests() => _ioas = _s.AllocIoas();

    public void Dispose() => _s.Dispose();

    private static IommuIovaRange R(ulong start, ulong last) => new() { Start = start, Last = last };

    private IReadOnlyList<IovaRange> Allowed() => _s.WithIoas(_ioas, t => t.AllowedRanges());

    [Fact]
    public void Reserved_field_is_EOPNOTSUPP()
    {
        var cmd = Cmd.AllowIovas(_ioas, 0, 0) with { Reserved = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
        cmd = Cmd.AllowIovas(999, 1, UserHeap.BadPointer) with { Reserved = 0x8000_0000 };
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
    }

    [Fact]
    public void Unknown_ioas_is_ENOENT_before_the_array_is_read()
    {
        var cmd = Cmd.AllowIovas(999, 1, UserHeap.BadPointer);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
        cmd = Cmd.AllowIovas(0, 0, 0);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
        cmd = Cmd.AllowIovas(_s.AddForeignObject(), 0, 0);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
    }

    [Theory]
    [InlineData(0x1000ul, 0x1000ul)] // a single byte
    [InlineData(0x2000ul, 0x1000ul)] // reversed
    [InlineData(0ul, 0ul)]
    [InlineData(ulong.MaxValue, ulong.MaxValue)]
    public void Start_not_below_last_is_EINVAL(ulong start, ulong last)
    {
        Assert.Equal(Errno.EINVAL, _s.AllowIovas(_ioas, R(start, last)));
        Assert.Equal(Errno.EINVAL, _s.AllowIovas(_ioas, R(0x10_0000, 0x1f_ffff), R(start, last)));
        Assert.Empty(Allowed());
    }

    [Theory]
    [InlineData(0x10_0000ul, 0x1f_ffffUL, 0x1f_ffffUL, 0x2f_ffffUL)] // share one byte
    [InlineData(0x10_0000ul, 0x1f_ffffUL, 0x10_0000ul, 0x1f_ffffUL)] // identical
    [InlineData(0x10_0000ul, 0x1f_ffffUL, 0x14_0000ul, 0x15_ffffUL)] // nested
    [InlineData(0x20_0000ul, 0x2f_ffffUL, 0x10_0000ul, 0x20_0000ul)] // second before the first, overlapping
    public void Overlapping_ranges_are_EINVAL(ulong s1, ulong l1, ulong s2, ulong l2)
    {
        Assert.Equal(Errno.EINVAL, _s.AllowIovas(_ioas, R(s1, l1), R(s2, l2)));
        Assert.Empty(Allowed());
    }

    [Fact]
    public void Adjacent_and_unordered_ranges_are_fine()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x30_0000, 0x3f_ffff), R(0x10_0000, 0x1f_ffff), R(0x20_0000, 0x2f_ffff)));
        Assert.Equal(3, Allowed().Count);
    }

    [Fact]
    public void Whole_space_can_be_allowed()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0, ulong.MaxValue)));
        Assert.Equal(0x1000ul, _s.MapAuto(_ioas, UserVa, 0x1000));
    }

    [Fact]
    public void Bad_array_pointer_is_EFAULT()
    {
        var cmd = Cmd.AllowIovas(_ioas, 1, UserHeap.BadPointer);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(ref cmd));
        cmd = Cmd.AllowIovas(_ioas, 3, UserHeap.UnmappedPointer);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(ref cmd));
        Assert.Empty(Allowed());
    }

    [Fact]
    public void Array_running_into_unmapped_memory_is_EFAULT()
    {
        var array = _s.Heap.AllocAtEnd(16);
        _s.Heap.Write(array, R(0x10_0000, 0x1f_ffff));
        var cmd = Cmd.AllowIovas(_ioas, 2, array);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(ref cmd));
        Assert.Empty(Allowed());
    }

    [Fact]
    public void Invalid_element_before_an_unreadable_one_is_EINVAL()
    {
        // Elements are loaded and checked one at a time.
        var array = _s.Heap.AllocAtEnd(16);
        _s.Heap.Write(array, R(0x2000, 0x1000));
        var cmd = Cmd.AllowIovas(_ioas, 2, array);
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
    }

    [Fact]
    public void Range_intersecting_a_reserved_range_is_EADDRINUSE()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x20_0000, 0x20_0fff));
        Assert.Equal(Errno.EADDRINUSE, _s.AllowIovas(_ioas, R(0x10_0000, 0x20_0000)));
        Assert.Equal(Errno.EADDRINUSE, _s.AllowIovas(_ioas, R(0x50_0000, 0x5f_ffff), R(0x20_0fff, 0x2f_ffff)));
        Assert.Empty(Allowed());
        // Touching it without intersecting is fine.
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x10_0000, 0x1f_ffff), R(0x20_1000, 0x2f_ffff)));
    }

    [Fact]
    public void Zero_ranges_clear_the_list()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x80_0000, 0x8f_ffff)));
        Assert.Equal(0x80_0000ul, _s.MapAuto(_ioas, UserVa, 0x1000));

        // num_iovas = 0: the pointer is never read.
        var cmd = Cmd.AllowIovas(_ioas, 0, UserHeap.BadPointer);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Empty(Allowed());
        Assert.Equal(0x1000ul, _s.MapAuto(_ioas, UserVa, 0x1000));
    }

    [Fact]
    public void New_list_replaces_the_old_one()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x80_0000, 0x8f_ffff)));
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x40_0000, 0x4f_ffff)));
        Assert.Equal([new IovaRange(0x40_0000, 0x4f_ffff)], Allowed());
        Assert.Equal(0x40_0000ul, _s.MapAuto(_ioas, UserVa, 0x1000));
        // The old range is no longer protected from reservation.
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x80_0000, 0x80_0fff));
    }

    [Fact]
    public void Failed_update_keeps_the_previous_list()
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x80_0000, 0x8f_ffff)));
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x20_0000, 0x20_0fff));

        Assert.Equal(Errno.EADDRINUSE, _s.AllowIovas(_ioas, R(0x20_0000, 0x2f_ffff)));
        Assert.Equal(Errno.EINVAL, _s.AllowIovas(_ioas, R(0x30_0000, 0x30_0000)));
        var cmd = Cmd.AllowIovas(_ioas, 1, UserHeap.BadPointer);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(ref cmd));

        Assert.Equal([new IovaRange(0x80_0000, 0x8f_ffff)], Allowed());
        Assert.Equal(Errno.EADDRINUSE, _s.AddReserved(_ioas, 0x80_1000, 0x80_1fff));
    }

    [Theory]
    [InlineData(0x80_0000ul, 0x80_0fffUL)] // inside
    [InlineData(0x7f_f000ul, 0x80_0000ul)] // overlapping the start
    [InlineData(0x8f_ffffUL, 0x90_ffffUL)] // overlapping the end
    [InlineData(0, ulong.MaxValue)] // covering it
    public void Reserving_inside_an_allowed_range_is_EADDRINUSE(ulong start, ulong last)
    {
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x80_0000, 0x8f_ffff)));
        Assert.Equal(Errno.EADDRINUSE, _s.AddReserved(_ioas, start, last));
        Assert.Equal([R(0, ulong.MaxValue)], _s.IovaRanges(_ioas, out _));
    }

    [Fact]
    public void Allowed_range_may_cover_existing_mappings()
    {
        _s.MapFixed(_ioas, 0x10_0000, UserVa, 0x1000);
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x10_0000, 0x1f_ffff)));
        Assert.Equal(0x10_1000ul, _s.MapAuto(_ioas, UserVa, 0x1000));
    }

    [Fact]
    public void Allow_iovas_writes_nothing_back()
    {
        var array = _s.Heap.PlaceArray<IommuIovaRange>([R(0x10_0000, 0x1f_ffff)]);
        var cmd = Cmd.AllowIovas(_ioas, 1, array);
        var before = cmd;
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(before, cmd);
        Assert.Equal(R(0x10_0000, 0x1f_ffff), _s.Heap.Read<IommuIovaRange>(array));
    }
}
