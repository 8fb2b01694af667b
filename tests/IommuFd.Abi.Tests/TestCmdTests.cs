using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_TEST_CMD as a whole (selftest.c iommufd_test) and its small ops: ADD_RESERVED,
/// SET_TEMP_MEMORY_LIMIT and DEV_CHECK_CACHE.
/// </summary>
public sealed class TestCmdTests : IDisposable
{
    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    // ---- the struct ----

    [Theory]
    [InlineData(0u)]
    [InlineData(4u)]
    [InlineData(16u)]
    [InlineData(64u)]
    [InlineData(67u)] // min − 1: `last` ends at 68
    public void Size_below_the_end_of_last_is_EINVAL(uint size)
    {
        var cmd = DevCmd.Test(Mock.OpSetTempMemoryLimit) with { Size = size };
        cmd.MemoryLimit.Limit = Mock.DefaultTempMemoryLimit;
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
    }

    [Theory]
    [InlineData(68u)]
    [InlineData(72u)]
    [InlineData(80u)]
    [InlineData(4096u)]
    public void Size_from_the_end_of_last_up_is_accepted(uint size)
    {
        var arg = _s.Heap.Alloc(size + 16);
        var cmd = DevCmd.Test(Mock.OpSetTempMemoryLimit) with { Size = size };
        cmd.MemoryLimit.Limit = Mock.DefaultTempMemoryLimit;
        _s.Heap.Write(arg, cmd);
        Assert.Equal(Errno.Ok, _s.Ioctl(Header.TestCmd, arg));
    }

    [Theory]
    [InlineData(72)] // the first byte past the struct (its padding is known to the kernel)
    [InlineData(79)]
    public void Nonzero_byte_past_72_is_E2BIG(int at)
    {
        var arg = _s.Heap.Alloc(128);
        var cmd = DevCmd.Test(Mock.OpSetTempMemoryLimit) with { Size = 80 };
        cmd.MemoryLimit.Limit = Mock.DefaultTempMemoryLimit;
        _s.Heap.Write(arg, cmd);
        _s.Heap.WriteBytes(arg + (ulong)at, [1]);
        Assert.Equal(Errno.E2BIG, _s.Ioctl(Header.TestCmd, arg));
    }

    [Fact]
    public void Short_size_gets_only_that_many_bytes_back()
    {
        // MOCK_DOMAIN responds with min(user size, 72) bytes: with size 68 the padding stays untouched.
        var ioas = _s.AllocIoas();
        var arg = _s.Heap.Alloc(128);
        var cmd = DevCmd.Test(Mock.OpMockDomain, ioas) with { Size = Header.TestCmdMinSize };
        _s.Heap.Write(arg, cmd);
        _s.Heap.WriteBytes(arg + 68, [0xAB, 0xAB, 0xAB, 0xAB, 0xCD]);
        Assert.Equal(Errno.Ok, _s.IoctlAt<IommuTestCmd>(arg, out var after));
        Assert.Equal(new MockIds(2, 4, 3), new MockIds(after.MockDomain.OutStdevId, after.MockDomain.OutHwptId, after.MockDomain.OutIdevId));
        Assert.Equal([0xAB, 0xAB, 0xAB, 0xAB, 0xCD], _s.Heap.ReadBytes(arg + 68, 5));
    }

    [Fact]
    public void Number_is_IO_semicolon_0xa0()
    {
        var cmd = DevCmd.Test(Mock.OpSetTempMemoryLimit);
        cmd.MemoryLimit.Limit = Mock.DefaultTempMemoryLimit;
        var arg = _s.Heap.Place(cmd);
        Assert.Equal(Errno.Ok, _s.Ioctl(0x3ba0, arg));
        Assert.Equal(Errno.ENOTTY, _s.Ioctl(0x3ba1, arg));
        Assert.Equal(Errno.ENOTTY, _s.Ioctl(0xC048_3BA0, arg)); // _IOWR(';', 0xa0, 72)
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(100u)]
    [InlineData(0xffffu)]
    [InlineData(0xffff_ffffu)]
    public void Unknown_op_is_EOPNOTSUPP(uint op)
    {
        var cmd = DevCmd.Test(op, 1);
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    // ---- ADD_RESERVED ----

    [Fact]
    public void Add_reserved_with_length_zero_is_EINVAL_before_the_lookup()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.EINVAL, _s.AddReservedOp(ioas, 0x1000, 0));
        Assert.Equal(Errno.EINVAL, _s.AddReservedOp(999, 0x1000, 0));
    }

    [Theory]
    [InlineData(0xffff_ffff_ffff_f000ul, 0x2000ul)]
    [InlineData(2ul, ulong.MaxValue)]
    [InlineData(ulong.MaxValue, 2ul)]
    public void Add_reserved_that_wraps_is_EOVERFLOW_before_the_lookup(ulong start, ulong length)
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.EOVERFLOW, _s.AddReservedOp(ioas, start, length));
        Assert.Equal(Errno.EOVERFLOW, _s.AddReservedOp(999, start, length));
    }

    [Fact]
    public void Add_reserved_on_an_unknown_or_foreign_id_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, _s.AddReservedOp(0, 0x1000, 0x1000));
        Assert.Equal(Errno.ENOENT, _s.AddReservedOp(999, 0x1000, 0x1000));
        Assert.Equal(Errno.ENOENT, _s.AddReservedOp(_s.AddForeignObject(), 0x1000, 0x1000));
    }

    [Fact]
    public void Add_reserved_up_to_the_last_iova_is_fine()
    {
        var ioas = _s.AllocIoas();
        // reserved_overflow in the selftest: start 6, length 0xffffffffffff8001 does not wrap.
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, 6, 0xffff_ffff_ffff_8001));
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, 1, ulong.MaxValue - 1)); // [1, U64_MAX − 1]
        Assert.Equal([(0ul, 0ul), (ulong.MaxValue, ulong.MaxValue)], _s.Ranges(ioas, out _));
    }

    [Fact]
    public void Add_reserved_makes_a_hole_in_iova_ranges()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, 0x1000, 0x1000));
        Assert.Equal([(0ul, 0xffful), (0x2000ul, ulong.MaxValue)], _s.Ranges(ioas, out var alignment));
        Assert.Equal(1ul, alignment);

        // Overlapping reservations are fine and merge in the report.
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, 0x1800, 0x1000));
        Assert.Equal([(0ul, 0xffful), (0x2800ul, ulong.MaxValue)], _s.Ranges(ioas, out _));

        // A fixed map into the hole is refused; next to it is fine.
        Assert.Equal(Errno.EINVAL, _s.Map(Cmd.MapFixed(ioas, 0x2000, 0x7a00_0000_0000, 0x1000), out _));
        _s.MapFixed(ioas, 0x3000, 0x7a00_0000_0000, 0x1000);
    }

    [Fact]
    public void Add_reserved_over_a_mapping_is_EADDRINUSE()
    {
        var ioas = _s.AllocIoas();
        _s.MapFixed(ioas, 0x10000, 0x7a00_0000_0000, 0x4000);
        Assert.Equal(Errno.EADDRINUSE, _s.AddReservedOp(ioas, 0x13fff, 1));
        Assert.Equal(Errno.EADDRINUSE, _s.AddReservedOp(ioas, 0x0f000, 0x1001));
        Assert.Equal(Errno.EADDRINUSE, _s.AddReservedOp(ioas, 0, ulong.MaxValue));
        // Just outside is fine.
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, 0x14000, 0x1000));
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, 0x0f000, 0x1000));
    }

    [Fact]
    public void Add_reserved_over_an_allowed_range_is_EADDRINUSE()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.AllowIovas(ioas, new IommuIovaRange { Start = 0x10000, Last = 0x1ffff }));
        Assert.Equal(Errno.EADDRINUSE, _s.AddReservedOp(ioas, 0x1f000, 0x2000));
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, 0x20000, 0x1000));
        // And the other way round: allowing over a reservation.
        Assert.Equal(Errno.EADDRINUSE, _s.AllowIovas(ioas, new IommuIovaRange { Start = 0x20000, Last = 0x20fff }));
    }

    [Fact]
    public void Add_reserved_inside_the_mock_apertures_complement_leaves_ranges_unchanged()
    {
        // iova_ranges in the selftest: with a mock domain, [4K, 8K) is already outside the aperture.
        var ioas = _s.AllocIoas();
        _s.AddMock(ioas);
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, 0x1000, 0x1000));
        Assert.Equal([(Mock.ApertureStart, Mock.ApertureLast)], _s.Ranges(ioas, out _));
    }

    // ---- SET_TEMP_MEMORY_LIMIT ----

    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(11u)] // sizeof(unsigned long) + sizeof(u32) − 1
    public void Temp_memory_limit_below_12_is_EINVAL(uint limit) =>
        Assert.Equal(Errno.EINVAL, _s.SetTempMemoryLimit(limit));

    [Fact]
    public void Temp_memory_limit_of_12_or_more_is_accepted()
    {
        try
        {
            Assert.Equal(Errno.Ok, _s.SetTempMemoryLimit(12));
            Assert.Equal(Errno.Ok, _s.SetTempMemoryLimit(16));
            Assert.Equal(Errno.Ok, _s.SetTempMemoryLimit(uint.MaxValue));
            // The id is not looked at.
            var cmd = DevCmd.Test(Mock.OpSetTempMemoryLimit, 12345);
            cmd.MemoryLimit.Limit = 4096;
            Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        }
        finally
        {
            Assert.Equal(Errno.Ok, _s.SetTempMemoryLimit(Mock.DefaultTempMemoryLimit));
        }
    }

    [Fact]
    public void A_tiny_temp_memory_limit_changes_no_result()
    {
        try
        {
            Assert.Equal(Errno.Ok, _s.SetTempMemoryLimit(16));
            var ioas = _s.AllocIoas();
            var ids = _s.AddMock(ioas);
            var buffer = _s.Heap.Alloc(0x10000);
            _s.MapFixed(ioas, Mock.ApertureStart, buffer, 0x10000);
            Assert.Equal(Errno.Ok, _s.CheckMap(ids.Hwpt, Mock.ApertureStart, 0x10000, buffer));
            Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x10000, 1));
        }
        finally
        {
            Assert.Equal(Errno.Ok, _s.SetTempMemoryLimit(Mock.DefaultTempMemoryLimit));
        }
    }

    // ---- DEV_CHECK_CACHE ----

    [Fact]
    public void Dev_check_cache_sees_the_default_tags()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        for (var i = 0u; i < 4; i++)
            Assert.Equal(Errno.Ok, _s.DevCheckCache(ids.Idev, i, Mock.DevCacheDefault));
    }

    [Theory]
    [InlineData(4u)]
    [InlineData(5u)]
    [InlineData(uint.MaxValue)]
    public void Dev_check_cache_id_past_3_is_EINVAL(uint cacheId)
    {
        var ids = _s.AddMock(_s.AllocIoas());
        Assert.Equal(Errno.EINVAL, _s.DevCheckCache(ids.Idev, cacheId, Mock.DevCacheDefault));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0xbaddacu)]
    [InlineData(0xffff_ffffu)]
    public void Dev_check_cache_wrong_value_is_EINVAL(uint value)
    {
        var ids = _s.AddMock(_s.AllocIoas());
        Assert.Equal(Errno.EINVAL, _s.DevCheckCache(ids.Idev, 2, value));
    }

    [Fact]
    public void Dev_check_cache_on_anything_but_a_device_is_ENOENT()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.ENOENT, _s.DevCheckCache(0, 0, Mock.DevCacheDefault));
        Assert.Equal(Errno.ENOENT, _s.DevCheckCache(999, 0, Mock.DevCacheDefault));
        Assert.Equal(Errno.ENOENT, _s.DevCheckCache(ioas, 0, Mock.DevCacheDefault));
        Assert.Equal(Errno.ENOENT, _s.DevCheckCache(ids.Stdev, 0, Mock.DevCacheDefault));
        Assert.Equal(Errno.ENOENT, _s.DevCheckCache(ids.Hwpt, 0, Mock.DevCacheDefault));
        // The lookup comes before the id check.
        Assert.Equal(Errno.ENOENT, _s.DevCheckCache(999, 7, 0));
        // Gone with its self-test handle.
        Assert.Equal(Errno.Ok, _s.Destroy(ids.Stdev));
        Assert.Equal(Errno.ENOENT, _s.DevCheckCache(ids.Idev, 0, Mock.DevCacheDefault));
    }
}
