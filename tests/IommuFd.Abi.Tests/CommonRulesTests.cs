using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// Rules every iommufd ioctl shares (main.c iommufd_fops_ioctl and copy_struct_from_user): the
/// leading u32 size is read first, the number must be exactly _IO(';', nr), the size must reach
/// the last field, a longer struct must be zero past the known end, and results go back only up
/// to the caller's size.
/// </summary>
public sealed class CommonRulesTests : IDisposable
{
    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    public static TheoryData<uint, int> Commands => new()
    {
        { Header.Destroy, Header.DestroySize },
        { Header.IoasAlloc, Header.IoasAllocSize },
        { Header.IoasAllowIovas, Header.IoasAllowIovasSize },
        { Header.IoasCopy, Header.IoasCopySize },
        { Header.IoasIovaRanges, Header.IoasIovaRangesSize },
        { Header.IoasMap, Header.IoasMapSize },
        { Header.IoasUnmap, Header.IoasUnmapSize },
        { Header.Option, Header.OptionSize },
    };

    // ---- reading the size ----

    [Theory]
    [MemberData(nameof(Commands))]
    public void Unreadable_argument_is_EFAULT(uint command, int size)
    {
        _ = size;
        Assert.Equal(Errno.EFAULT, _s.Ioctl(command, UserHeap.BadPointer));
        Assert.Equal(Errno.EFAULT, _s.Ioctl(command, UserHeap.UnmappedPointer));
    }

    [Fact]
    public void Dispatcher_returns_the_negative_errno()
    {
        Assert.Equal(-14, _s.RawIoctl(Header.Destroy, UserHeap.BadPointer));
        var arg = _s.Heap.Place(Cmd.Destroy(12345));
        Assert.Equal(-2, _s.RawIoctl(Header.Destroy, arg));
        arg = _s.Heap.Place(Cmd.IoasAlloc());
        Assert.Equal(0, _s.RawIoctl(Header.IoasAlloc, arg));
    }

    [Fact]
    public void Size_straddling_into_unmapped_memory_is_EFAULT()
    {
        // Only two of the four size bytes are mapped.
        var arg = _s.Heap.AllocAtEnd(2);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.IoasAlloc, arg));
    }

    [Fact]
    public void Unknown_command_in_the_table_range_reads_the_size_first()
    {
        // A known nr with direction/size bits set (_IOWR(';', 0x85, 40)): the kernel's nr lies in
        // the op table, so get_user(size) runs before the number comparison.
        const uint iowrMap = 0xC028_3B85;
        Assert.Equal(Errno.EFAULT, _s.Ioctl(iowrMap, UserHeap.BadPointer));
    }

    [Theory]
    [InlineData(0x3b7fu)]
    [InlineData(0x3b00u)]
    [InlineData(0x3bffu)]
    public void Command_outside_the_table_is_ENOTTY_without_reading_the_argument(uint command)
    {
        // main.c: nr < IOMMUFD_CMD_BASE or past ARRAY_SIZE(iommufd_ioctl_ops) goes to
        // iommufd_vfio_ioctl(), which answers -ENOIOCTLCMD (ENOTTY) for these numbers and never
        // touches the argument; get_user(size) only happens for numbers inside the table.
        Assert.Equal(Errno.ENOTTY, _s.Ioctl(command, UserHeap.BadPointer));
    }

    // ---- the number ----

    [Theory]
    [InlineData(0x3b7fu)] // just below IOMMUFD_CMD_BASE
    [InlineData(0x3b00u)]
    [InlineData(0x3bffu)] // far beyond the table
    [InlineData(0x3b9fu)] // beyond the last IOAS-era command, below IOMMU_TEST_CMD
    [InlineData(0xC008_3B80u)] // _IOWR(';', 0x80, 8): right nr, direction and size bits set
    [InlineData(0x4008_3B81u)] // _IOW(';', 0x81, 8)
    [InlineData(0x8000_3B86u)] // _IOR(';', 0x86, 0)
    [InlineData(0x4180u)] // type 'A', nr 0x80
    [InlineData(0x0080u)] // type 0, nr 0x80
    public void Number_that_is_not_exactly_IO_semicolon_nr_is_ENOTTY(uint command)
    {
        var arg = _s.Heap.Place(Cmd.IoasAlloc());
        Assert.Equal(Errno.ENOTTY, _s.Ioctl(command, arg));
        Assert.Equal(0u, _s.Heap.Read<IommuIoasAlloc>(arg).OutIoasId);
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    // ---- the size ----

    [Theory]
    [MemberData(nameof(Commands))]
    public void Size_below_the_last_field_is_EINVAL(uint command, int size)
    {
        foreach (var userSize in new[] { 0, 4, size - 1 })
        {
            var arg = _s.Heap.Alloc(64);
            _s.Heap.Write(arg, (uint)userSize);
            Assert.Equal(Errno.EINVAL, _s.Ioctl(command, arg));
        }
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Nonzero_byte_past_the_known_struct_is_E2BIG(uint command, int size)
    {
        var arg = _s.Heap.Alloc(256);
        _s.Heap.Write(arg, (uint)(size + 8));
        _s.Heap.WriteBytes(arg + (ulong)size + 7, [1]);
        Assert.Equal(Errno.E2BIG, _s.Ioctl(command, arg));
    }

    [Fact]
    public void Nonzero_byte_at_the_end_of_a_huge_struct_is_E2BIG()
    {
        var arg = _s.Heap.Alloc(4096);
        var cmd = Cmd.IoasAlloc() with { Size = 4096 };
        _s.Heap.Write(arg, cmd);
        _s.Heap.WriteBytes(arg + 4095, [0x80]);
        Assert.Equal(Errno.E2BIG, _s.Ioctl(Header.IoasAlloc, arg));
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    [Theory]
    [InlineData(Header.IoasAllocSize + 1)]
    [InlineData(16)]
    [InlineData(513)]
    [InlineData(4096)]
    [InlineData(70_000)]
    public void Longer_struct_with_a_zero_tail_is_accepted(int userSize)
    {
        var arg = _s.Heap.Alloc((ulong)userSize + 64);
        _s.Heap.Write(arg, Cmd.IoasAlloc() with { Size = (uint)userSize });
        _s.Heap.WriteBytes(arg + (ulong)userSize, [0xAA, 0xBB, 0xCC, 0xDD]); // just past the caller's struct

        Assert.Equal(Errno.Ok, _s.Ioctl(Header.IoasAlloc, arg));

        var after = _s.Heap.Read<IommuIoasAlloc>(arg);
        Assert.Equal(1u, after.OutIoasId);
        Assert.Equal((uint)userSize, after.Size);
        // The zero tail stays zero and nothing past the caller's size is written.
        Assert.All(_s.Heap.ReadBytes(arg + Header.IoasAllocSize, userSize - Header.IoasAllocSize), b => Assert.Equal(0, b));
        Assert.Equal([0xAA, 0xBB, 0xCC, 0xDD], _s.Heap.ReadBytes(arg + (ulong)userSize, 4));
    }

    [Fact]
    public void Every_command_accepts_a_zero_tail_and_reaches_its_handler()
    {
        // Each struct names object 0 (or an unknown option), so the handler's own answer proves
        // that the dispatcher let the longer struct through.
        AssertZeroTailReachesHandler(Cmd.Destroy(0), Errno.ENOENT);
        AssertZeroTailReachesHandler(Cmd.IoasAlloc(), Errno.Ok);
        AssertZeroTailReachesHandler(Cmd.AllowIovas(0, 0, 0), Errno.ENOENT);
        AssertZeroTailReachesHandler(Cmd.Copy(0, 0, 0x1000, 0x1000), Errno.ENOENT);
        AssertZeroTailReachesHandler(Cmd.IovaRanges(0, 0, 0), Errno.ENOENT);
        AssertZeroTailReachesHandler(Cmd.Map(0, 0x1000, 0x1000), Errno.ENOENT);
        AssertZeroTailReachesHandler(Cmd.Unmap(0, 0x1000, 0x1000), Errno.ENOENT);
        AssertZeroTailReachesHandler(Cmd.Option(5, Header.OpGet), Errno.EOPNOTSUPP);
    }

    private void AssertZeroTailReachesHandler<T>(T cmd, Errno expected) where T : unmanaged
    {
        var size = (int)Header.SizeOf<T>();
        var arg = _s.Heap.Alloc((ulong)size + 16);
        _s.Heap.Write(arg, cmd);
        _s.Heap.Write(arg, (uint)(size + 16));
        Assert.Equal(expected, _s.Ioctl(Header.NumberOf<T>(), arg));
    }

    [Fact]
    public void Longer_struct_with_a_zero_tail_runs_a_command_with_output()
    {
        const int userSize = Header.IoasMapSize + 16;
        var ioas = _s.AllocIoas();
        var arg = _s.Heap.Alloc(userSize + 8);
        _s.Heap.Write(arg, Cmd.Map(ioas, 0x1000, 0x1000) with { Size = userSize });
        _s.Heap.WriteBytes(arg + userSize, [0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A]);

        Assert.Equal(Errno.Ok, _s.Ioctl(Header.IoasMap, arg));

        Assert.Equal(0x1000ul, _s.Heap.Read<IommuIoasMap>(arg).Iova);
        Assert.All(_s.Heap.ReadBytes(arg + Header.IoasMapSize, 16), b => Assert.Equal(0, b));
        Assert.All(_s.Heap.ReadBytes(arg + userSize, 8), b => Assert.Equal(0x5A, b));
    }

    [Fact]
    public void Unreadable_zero_tail_is_EFAULT()
    {
        // 12 known bytes and 4 more mapped, then the size claims 8 more that are not mapped.
        var arg = _s.Heap.AllocAtEnd(16);
        _s.Heap.Write(arg, Cmd.IoasAlloc() with { Size = 24 });
        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.IoasAlloc, arg));
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    [Fact]
    public void Unreadable_tail_far_past_the_struct_is_EFAULT()
    {
        var arg = _s.Heap.AllocAtEnd(2000);
        _s.Heap.Write(arg, Cmd.IoasAlloc() with { Size = 2001 });
        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.IoasAlloc, arg));
    }

    [Fact]
    public void Nonzero_tail_byte_before_an_unreadable_part_is_E2BIG()
    {
        // check_zeroed_user() reads the tail word by word and stops at the first non-zero word,
        // so a non-zero byte that comes before the fault wins: E2BIG, not EFAULT.
        var arg = _s.Heap.AllocAtEnd(64);
        _s.Heap.Write(arg, Cmd.IoasAlloc() with { Size = 128 });
        _s.Heap.WriteBytes(arg + 24, [1]);
        Assert.Equal(Errno.E2BIG, _s.Ioctl(Header.IoasAlloc, arg));
    }

    [Fact]
    public void Known_part_straddling_into_unmapped_memory_is_EFAULT()
    {
        // The size is readable but the rest of the struct is not.
        var arg = _s.Heap.AllocAtEnd(8);
        _s.Heap.Write(arg, (uint)Header.IoasMapSize);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.IoasMap, arg));
    }

    [Fact]
    public void Shorter_user_size_is_never_written_past()
    {
        // DESTROY has no output; the struct and the bytes after it are left as they were.
        var ioas = _s.AllocIoas();
        var arg = _s.Heap.Alloc(64);
        _s.Heap.Write(arg, Cmd.Destroy(ioas));
        _s.Heap.WriteBytes(arg + Header.DestroySize, [0xEE, 0xEE, 0xEE, 0xEE]);
        Assert.Equal(Errno.Ok, _s.Ioctl(Header.Destroy, arg));
        Assert.Equal(Cmd.Destroy(ioas), _s.Heap.Read<IommuDestroy>(arg));
        Assert.Equal([0xEE, 0xEE, 0xEE, 0xEE], _s.Heap.ReadBytes(arg + Header.DestroySize, 4));
    }

    // ---- contexts ----

    [Fact]
    public void Two_contexts_on_one_host_have_independent_ids()
    {
        using var other = _s.OpenAnother();
        Assert.Equal(1u, _s.AllocIoas());
        Assert.Equal(2u, _s.AllocIoas());
        Assert.Equal(1u, other.AllocIoas());

        // ID 2 exists only in the first context.
        Assert.Equal(Errno.ENOENT, other.Destroy(2));
        Assert.Equal(Errno.ENOENT, other.Map(2, 0x1000, 0x1000));
        Assert.Equal(Errno.Ok, _s.Map(2, 0x1000, 0x1000));

        // Mappings of one context are invisible in the other.
        Assert.Empty(other.Mappings(1));
        Assert.Equal(Errno.Ok, other.Destroy(1));
        Assert.Single(_s.Mappings(2));
        Assert.Equal(Errno.Ok, _s.Destroy(1));
        Assert.Equal(Errno.ENOENT, _s.Destroy(1));
    }

    [Fact]
    public void Options_of_one_context_do_not_affect_another()
    {
        using var other = _s.OpenAnother();
        _s.AllocIoas();
        // The first context holds an object; the second is empty and may still change its mode.
        Assert.Equal(Errno.Ok, other.SetOption(Header.OptionRlimitMode, 1));
        Assert.Equal(1ul, other.GetOption(Header.OptionRlimitMode));
        Assert.Equal(0ul, _s.GetOption(Header.OptionRlimitMode));
    }
}
