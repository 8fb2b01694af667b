using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>IOMMU_IOAS_IOVA_RANGES (ioas.c iommufd_ioas_iova_ranges): the holes between reserved IOVA.</summary>
public sealed class IoasIovaRangesTests : IDisposable
{
    private readonly AbiSession _s = new();
    private readonly uint _ioas;

    public IoasIovaRangesTests() => _ioas = _s.AllocIoas();

    public void Dispose() => _s.Dispose();

    private static IommuIovaRange R(ulong start, ulong last) => new() { Start = start, Last = last };

    [Fact]
    public void Reserved_field_is_EOPNOTSUPP()
    {
        var cmd = Cmd.IovaRanges(_ioas, 0, 0) with { Reserved = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
        Assert.Equal(0u, cmd.NumIovas);
        // Before the IOAS look-up.
        cmd = Cmd.IovaRanges(999, 0, 0) with { Reserved = 0x8000_0000 };
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
    }

    [Fact]
    public void Unknown_ioas_is_ENOENT()
    {
        var cmd = Cmd.IovaRanges(999, 4, UserHeap.BadPointer);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
        Assert.Equal(4u, cmd.NumIovas);
        cmd = Cmd.IovaRanges(0, 0, 0);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
        cmd = Cmd.IovaRanges(_s.AddForeignObject(), 0, 0);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
    }

    [Fact]
    public void Fresh_ioas_has_the_whole_space_and_alignment_one()
    {
        var array = _s.Heap.Alloc(4 * 16);
        var cmd = Cmd.IovaRanges(_ioas, 4, array) with { OutIovaAlignment = 0xdead };
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(1u, cmd.NumIovas);
        Assert.Equal(1ul, cmd.OutIovaAlignment);
        Assert.Equal(array, cmd.AllowedIovas);
        Assert.Equal(R(0, ulong.MaxValue), _s.Heap.Read<IommuIovaRange>(array));
        // Elements past the count are not written.
        Assert.All(_s.Heap.ReadBytes(array + 16, 48), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Zero_capacity_is_EMSGSIZE_with_the_needed_count_written_back()
    {
        var cmd = Cmd.IovaRanges(_ioas, 0, UserHeap.BadPointer) with { OutIovaAlignment = 0xdead };
        Assert.Equal(Errno.EMSGSIZE, _s.Ioctl(ref cmd));
        Assert.Equal(1u, cmd.NumIovas);
        Assert.Equal(1ul, cmd.OutIovaAlignment);
    }

    [Fact]
    public void Too_small_capacity_fills_what_fits_and_is_EMSGSIZE()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x1000, 0x1fff));
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x10000, 0x1ffff));
        var array = _s.Heap.Alloc(4 * 16);
        _s.Heap.WriteBytes(array + 32, [0x77, 0x77, 0x77, 0x77]);

        var cmd = Cmd.IovaRanges(_ioas, 2, array);
        Assert.Equal(Errno.EMSGSIZE, _s.Ioctl(ref cmd));

        Assert.Equal(3u, cmd.NumIovas);
        Assert.Equal([R(0, 0xfff), R(0x2000, 0xffff)], _s.Heap.ReadArray<IommuIovaRange>(array, 2));
        Assert.Equal([0x77, 0x77, 0x77, 0x77], _s.Heap.ReadBytes(array + 32, 4));
    }

    [Fact]
    public void Reserved_ranges_leave_the_holes_between_them()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x1000, 0x1fff));
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x10000, 0x1ffff));
        Assert.Equal(
            [R(0, 0xfff), R(0x2000, 0xffff), R(0x20000, ulong.MaxValue)],
            _s.IovaRanges(_ioas, out var alignment));
        Assert.Equal(1ul, alignment);
    }

    [Fact]
    public void Reserved_ranges_at_both_ends_trim_the_space()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0, 0xfff));
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0xffff_ffff_ffff_f000, ulong.MaxValue));
        Assert.Equal([R(0x1000, 0xffff_ffff_ffff_efff)], _s.IovaRanges(_ioas, out _));
    }

    [Fact]
    public void Overlapping_and_adjacent_reserved_ranges_merge()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x10000, 0x17fff));
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x14000, 0x1ffff));
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x20000, 0x20fff));
        Assert.Equal([R(0, 0xffff), R(0x21000, ulong.MaxValue)], _s.IovaRanges(_ioas, out _));
    }

    [Fact]
    public void Everything_reserved_means_no_ranges()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0, ulong.MaxValue));
        var cmd = Cmd.IovaRanges(_ioas, 0, UserHeap.BadPointer);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(0u, cmd.NumIovas);
    }

    [Fact]
    public void Mappings_and_allowed_ranges_do_not_change_the_ranges()
    {
        _s.MapFixed(_ioas, 0x10000, 0x7a00_0000_0000, 0x4000);
        Assert.Equal(Errno.Ok, _s.AllowIovas(_ioas, R(0x100000, 0x1fffff)));
        Assert.Equal([R(0, ulong.MaxValue)], _s.IovaRanges(_ioas, out _));
    }

    [Fact]
    public void Bad_array_pointer_with_capacity_is_EFAULT_and_nothing_is_written_back()
    {
        var cmd = Cmd.IovaRanges(_ioas, 1, UserHeap.UnmappedPointer) with { OutIovaAlignment = 0xdead };
        Assert.Equal(Errno.EFAULT, _s.Ioctl(ref cmd));
        Assert.Equal(1u, cmd.NumIovas);
        Assert.Equal(0xdeadul, cmd.OutIovaAlignment);
    }

    [Fact]
    public void Array_ending_in_unmapped_memory_is_EFAULT()
    {
        Assert.Equal(Errno.Ok, _s.AddReserved(_ioas, 0x1000, 0x1fff));
        var array = _s.Heap.AllocAtEnd(16); // room for one element only
        var cmd = Cmd.IovaRanges(_ioas, 2, array);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(ref cmd));
        Assert.Equal(2u, cmd.NumIovas);
    }

    [Fact]
    public void Read_only_array_is_EFAULT()
    {
        var array = _s.Heap.Alloc(64, writable: false);
        var cmd = Cmd.IovaRanges(_ioas, 4, array);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(ref cmd));
    }

    [Fact]
    public void Failed_copy_back_is_EFAULT_after_the_array_is_filled()
    {
        // out_iova_alignment lies in a read-only page: the ranges are copied out, then
        // iommufd_ucmd_respond() fails.
        var array = _s.Heap.Alloc(16);
        var arg = _s.Heap.AllocStraddlingReadOnly(24);
        var cmd = Cmd.IovaRanges(_ioas, 1, array);
        _s.Heap.WritePrefix(arg, cmd, 24);

        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.IoasIovaRanges, arg));
        Assert.Equal(R(0, ulong.MaxValue), _s.Heap.Read<IommuIovaRange>(array));
    }

    [Fact]
    public void Alignment_follows_the_huge_pages_option()
    {
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 0, _ioas));
        _s.IovaRanges(_ioas, out var alignment);
        Assert.Equal(4096ul, alignment);
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 1, _ioas));
        _s.IovaRanges(_ioas, out alignment);
        Assert.Equal(1ul, alignment);
    }
}
