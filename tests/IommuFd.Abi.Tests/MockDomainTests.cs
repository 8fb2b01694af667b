using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_TEST_OP_MOCK_DOMAIN, MOCK_DOMAIN_FLAGS and MOCK_DOMAIN_REPLACE (selftest.c with device.c
/// attach/replace): IDs, the shared automatic HWPT, its effect on the IOAS, and its lifetime.
/// </summary>
public sealed class MockDomainTests : IDisposable
{
    private const ulong FullLast = ulong.MaxValue;

    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    // ---- MOCK_DOMAIN on an IOAS ----

    [Fact]
    public void Fresh_context_gives_stdev_2_idev_3_hwpt_4()
    {
        Assert.Equal(1u, _s.AllocIoas());
        Assert.Equal(new MockIds(Stdev: 2, Hwpt: 4, Idev: 3), _s.AddMock(1));
    }

    [Fact]
    public void Second_device_on_the_same_ioas_reuses_the_automatic_hwpt()
    {
        var ioas = _s.AllocIoas();
        var first = _s.AddMock(ioas);
        var second = _s.AddMock(ioas);
        Assert.Equal(new MockIds(Stdev: 5, Hwpt: 4, Idev: 6), second);
        Assert.Equal(first.Hwpt, second.Hwpt);
        // A NO_DIRTY device joins it too: automatic domains never track dirty pages.
        Assert.Equal(4u, _s.AddMock(ioas, Mock.DeviceNoDirty).Hwpt);
    }

    [Fact]
    public void Mock_domain_narrows_iova_ranges_to_the_aperture_with_2048_alignment()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal([(0ul, FullLast)], _s.Ranges(ioas, out var alignment));
        Assert.Equal(1ul, alignment);

        _s.AddMock(ioas);
        Assert.Equal([(Mock.ApertureStart, Mock.ApertureLast)], _s.Ranges(ioas, out alignment));
        Assert.Equal(Mock.PageSize, alignment);
    }

    [Fact]
    public void Ioas_with_a_device_cannot_be_destroyed()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.EBUSY, _s.Destroy(ioas));
        // Nor can the HWPT a device uses, nor the device object the self-test holds.
        Assert.Equal(Errno.EBUSY, _s.Destroy(ids.Hwpt));
        Assert.Equal(Errno.EBUSY, _s.Destroy(ids.Idev));
    }

    [Fact]
    public void Destroying_the_last_device_takes_the_automatic_hwpt_and_its_narrowing_with_it()
    {
        var ioas = _s.AllocIoas();
        var a = _s.AddMock(ioas);
        var b = _s.AddMock(ioas);

        Assert.Equal(Errno.Ok, _s.Destroy(a.Stdev));
        Assert.Equal(Errno.ENOENT, _s.Destroy(a.Stdev));
        // One device left: the HWPT stays.
        Assert.Equal(Errno.EBUSY, _s.Destroy(b.Hwpt));
        Assert.Equal([(Mock.ApertureStart, Mock.ApertureLast)], _s.Ranges(ioas, out _));

        Assert.Equal(Errno.Ok, _s.Destroy(b.Stdev));
        Assert.Equal(Errno.ENOENT, _s.Destroy(b.Hwpt));
        Assert.Equal(Errno.ENOENT, _s.Destroy(b.Idev));
        Assert.Equal([(0ul, FullLast)], _s.Ranges(ioas, out var alignment));
        Assert.Equal(1ul, alignment);
        Assert.Equal(Errno.Ok, _s.Destroy(ioas));
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    [Fact]
    public void Ids_freed_by_a_destroyed_device_are_reused_lowest_first()
    {
        var ioas = _s.AllocIoas();
        var a = _s.AddMock(ioas);
        Assert.Equal(Errno.Ok, _s.Destroy(a.Stdev));
        Assert.Equal(new MockIds(2, 4, 3), _s.AddMock(ioas));
    }

    [Fact]
    public void Mock_domain_pins_what_the_ioas_already_maps()
    {
        var ioas = _s.AllocIoas();
        var buffer = _s.Heap.Alloc(0x8000);
        _s.MapFixed(ioas, Mock.ApertureStart, buffer, 0x8000);
        Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x8000, 0));

        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x8000, 1));
        Assert.Equal(Errno.Ok, _s.CheckMap(ids.Hwpt, Mock.ApertureStart, 0x8000, buffer));

        Assert.Equal(Errno.Ok, _s.Destroy(ids.Stdev));
        Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x8000, 0));
    }

    [Fact]
    public void Mock_domain_over_unpinnable_memory_is_EFAULT_and_leaves_nothing()
    {
        // Without a domain MAP does not touch user memory, so an unmapped VA is accepted...
        var ioas = _s.AllocIoas();
        _s.MapFixed(ioas, Mock.ApertureStart, UserHeap.UnmappedPointer, 0x4000);
        // ...and filling a new domain then fails to pin it.
        Assert.Equal(Errno.EFAULT, _s.MockDomain(ioas, out var ids));
        Assert.Equal(default, ids);
        Assert.Equal(1, _s.Context.Objects.Count);
        Assert.Equal([(0ul, FullLast)], _s.Ranges(ioas, out _));
        Assert.Equal(2u, _s.AllocIoas());
    }

    [Fact]
    public void Mapping_outside_the_aperture_blocks_a_mock_domain_with_EADDRINUSE()
    {
        // iopt_table_add_domain reserves [0, aperture start) and (aperture end, max]: an area there conflicts.
        var ioas = _s.AllocIoas();
        var buffer = _s.Heap.Alloc(0x1000);
        _s.MapFixed(ioas, 0x1000, buffer, 0x1000);
        Assert.Equal(Errno.EADDRINUSE, _s.MockDomain(ioas, out _));
        Assert.Equal(1, _s.Context.Objects.Count);

        var other = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.AllowIovas(other, new IommuIovaRange { Start = 0x1_0000_0000, Last = 0x1_0000_ffff }));
        Assert.Equal(Errno.EADDRINUSE, _s.MockDomain(other, out _));
        Assert.Equal(2, _s.Context.Objects.Count);
    }

    [Fact]
    public void Mapping_not_aligned_to_2048_blocks_a_mock_domain_with_EADDRINUSE()
    {
        var ioas = _s.AllocIoas();
        var buffer = _s.Heap.Alloc(0x2000);
        _s.MapFixed(ioas, Mock.ApertureStart, buffer, 0x1001);
        Assert.Equal(Errno.EADDRINUSE, _s.MockDomain(ioas, out _));
        Assert.Equal([(0ul, FullLast)], _s.Ranges(ioas, out var alignment));
        Assert.Equal(1ul, alignment);
    }

    [Fact]
    public void Unwritable_result_is_EFAULT_and_leaves_nothing()
    {
        // selftest.c: a failed respond detaches, unbinds and aborts. Bytes 64..71 are read-only here.
        var ioas = _s.AllocIoas();
        var arg = _s.Heap.AllocStraddlingReadOnly(64);
        _s.Heap.WritePrefix(arg, DevCmd.Test(Mock.OpMockDomain, ioas), 64);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.TestCmd, arg));
        Assert.Equal(1, _s.Context.Objects.Count);
        Assert.Equal([(0ul, FullLast)], _s.Ranges(ioas, out _));
        Assert.Equal(new MockIds(2, 4, 3), _s.AddMock(ioas));
    }

    [Fact]
    public void Reservation_inside_the_aperture_stays_a_hole()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.AddReservedOp(ioas, Mock.ApertureStart, 0x1000));
        _s.AddMock(ioas);
        Assert.Equal([(Mock.ApertureStart + 0x1000, Mock.ApertureLast)], _s.Ranges(ioas, out _));
    }

    [Fact]
    public void Allowed_range_inside_the_aperture_does_not_block_a_mock_domain()
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.AllowIovas(ioas, new IommuIovaRange { Start = Mock.ApertureStart, Last = Mock.ApertureStart + 0xffff }));
        _s.AddMock(ioas);
    }

    // ---- pt = an HWPT, or something else ----

    [Fact]
    public void Mock_domain_on_an_existing_hwpt_attaches_to_it()
    {
        var ioas = _s.AllocIoas();
        var first = _s.AddMock(ioas);
        var second = _s.AddMock(first.Hwpt);
        Assert.Equal(first.Hwpt, second.Hwpt);
        Assert.Equal(new MockIds(5, 4, 6), second);

        // The HWPT now lives until both devices are gone.
        Assert.Equal(Errno.Ok, _s.Destroy(first.Stdev));
        Assert.Equal(Errno.EBUSY, _s.Destroy(first.Hwpt));
        Assert.Equal(Errno.Ok, _s.Destroy(second.Stdev));
        Assert.Equal(Errno.ENOENT, _s.Destroy(first.Hwpt));
    }

    [Fact]
    public void Mock_domain_on_an_unknown_id_is_ENOENT_and_consumes_no_id()
    {
        Assert.Equal(Errno.ENOENT, _s.MockDomain(0, out var ids));
        Assert.Equal(default, ids);
        Assert.Equal(Errno.ENOENT, _s.MockDomain(999, out _));
        Assert.Equal(0, _s.Context.Objects.Count);
        Assert.Equal(1u, _s.AllocIoas());
        Assert.Equal(new MockIds(2, 4, 3), _s.AddMock(1));
    }

    [Fact]
    public void Mock_domain_on_a_device_or_selftest_id_is_EINVAL_and_consumes_no_id()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.EINVAL, _s.MockDomain(ids.Idev, out var failed));
        Assert.Equal(default, failed);
        Assert.Equal(Errno.EINVAL, _s.MockDomain(ids.Stdev, out _));
        Assert.Equal(4, _s.Context.Objects.Count);
        Assert.Equal(5u, _s.AllocIoas());
    }

    [Fact]
    public void No_dirty_device_cannot_join_a_dirty_tracking_hwpt()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        var dirty = _s.AllocHwpt(ids.Idev, ioas, Mock.HwptDirtyTracking);
        // mock attach_dev: a domain with dirty ops and a NO_DIRTY device is EINVAL.
        Assert.Equal(Errno.EINVAL, _s.MockDomain(dirty, out _, Mock.DeviceNoDirty));
        // A normal device may.
        Assert.Equal(dirty, _s.AddMock(dirty).Hwpt);
    }

    // ---- MOCK_DOMAIN_FLAGS ----

    [Theory]
    [InlineData(Mock.DeviceHugeIovaObsolete)]
    [InlineData(1u << 3)]
    [InlineData(1u << 31)]
    [InlineData(Mock.DeviceNoDirty | Mock.DeviceHugeIovaObsolete)]
    public void Unknown_device_flag_is_EINVAL_and_consumes_no_id(uint flags)
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(Errno.EINVAL, _s.MockDomain(ioas, out var ids, flags));
        Assert.Equal(default, ids);
        Assert.Equal(1, _s.Context.Objects.Count);
        Assert.Equal(new MockIds(2, 4, 3), _s.AddMock(ioas));
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(Mock.DeviceNoDirty)]
    [InlineData(Mock.DevicePasid)]
    [InlineData(Mock.DeviceNoDirty | Mock.DevicePasid)]
    public void Known_device_flags_are_accepted(uint flags)
    {
        var ioas = _s.AllocIoas();
        Assert.Equal(new MockIds(2, 4, 3), _s.AddMock(ioas, flags));
        for (var i = 0u; i < 4; i++)
            Assert.Equal(Errno.Ok, _s.DevCheckCache(3, i, Mock.DevCacheDefault));
    }

    [Fact]
    public void Plain_mock_domain_ignores_dev_flags()
    {
        // Only MOCK_DOMAIN_FLAGS reads dev_flags; the plain op never looks at them.
        var ioas = _s.AllocIoas();
        var cmd = DevCmd.Test(Mock.OpMockDomain, ioas);
        cmd.MockDomain.DevFlags = Mock.DeviceHugeIovaObsolete;
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
    }

    // ---- MOCK_DOMAIN_REPLACE ----

    [Fact]
    public void Replace_of_an_unknown_stdev_is_ENOENT()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.ENOENT, _s.MockReplace(0, ioas, out _));
        Assert.Equal(Errno.ENOENT, _s.MockReplace(999, ioas, out var pt));
        Assert.Equal(ioas, pt);
        // Only a self-test object will do: the device, IOAS and HWPT IDs are not one.
        Assert.Equal(Errno.ENOENT, _s.MockReplace(ids.Idev, ioas, out _));
        Assert.Equal(Errno.ENOENT, _s.MockReplace(ioas, ioas, out _));
        Assert.Equal(Errno.ENOENT, _s.MockReplace(ids.Hwpt, ioas, out _));
    }

    [Fact]
    public void Replace_to_another_ioas_moves_the_device_and_kills_the_old_automatic_hwpt()
    {
        var ioas = _s.AllocIoas(); // 1
        var ids = _s.AddMock(ioas); // stdev 2, idev 3, hwpt 4
        var other = _s.AllocIoas(); // 5

        Assert.Equal(Errno.Ok, _s.MockReplace(ids.Stdev, other, out var pt));
        Assert.Equal(6u, pt); // a new automatic HWPT on the other IOAS, written back
        Assert.Equal(Errno.ENOENT, _s.Destroy(ids.Hwpt));

        Assert.Equal([(0ul, FullLast)], _s.Ranges(ioas, out _));
        Assert.Equal([(Mock.ApertureStart, Mock.ApertureLast)], _s.Ranges(other, out _));
        Assert.Equal(Errno.Ok, _s.Destroy(ioas));
        Assert.Equal(Errno.EBUSY, _s.Destroy(other));
    }

    [Fact]
    public void Replace_back_to_a_dead_automatic_hwpt_is_ENOENT()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        var other = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.MockReplace(ids.Stdev, other, out var pt));

        Assert.Equal(Errno.ENOENT, _s.MockReplace(ids.Stdev, ids.Hwpt, out var unchanged));
        Assert.Equal(ids.Hwpt, unchanged);
        // Still attached where it was.
        Assert.Equal(Errno.EBUSY, _s.Destroy(pt));
    }

    [Fact]
    public void Replace_to_where_it_already_is_succeeds_and_reports_the_hwpt()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);

        Assert.Equal(Errno.Ok, _s.MockReplace(ids.Stdev, ioas, out var pt));
        Assert.Equal(ids.Hwpt, pt);
        Assert.Equal(Errno.Ok, _s.MockReplace(ids.Stdev, ids.Hwpt, out pt));
        Assert.Equal(ids.Hwpt, pt);
        // Nothing was destroyed or created on the way.
        Assert.Equal(4, _s.Context.Objects.Count);
        Assert.Equal(Errno.EBUSY, _s.Destroy(ids.Hwpt));
    }

    [Fact]
    public void Replace_between_ioases_and_back()
    {
        var ioas = _s.AllocIoas(); // 1
        var ids = _s.AddMock(ioas); // 2, 3, 4
        var other = _s.AllocIoas(); // 5

        Assert.Equal(Errno.Ok, _s.MockReplace(ids.Stdev, other, out var there));
        Assert.Equal(6u, there);
        Assert.Equal(Errno.Ok, _s.MockReplace(ids.Stdev, other, out var again));
        Assert.Equal(there, again);
        Assert.Equal(Errno.Ok, _s.MockReplace(ids.Stdev, ioas, out var back));
        // The lowest free ID is 4 again, and the HWPT on the other IOAS died.
        Assert.Equal(4u, back);
        Assert.Equal(Errno.ENOENT, _s.Destroy(there));
        Assert.Equal(Errno.Ok, _s.Destroy(other));
    }

    [Fact]
    public void Replace_onto_an_unknown_or_unsuitable_pt()
    {
        var ioas = _s.AllocIoas();
        var ids = _s.AddMock(ioas);
        Assert.Equal(Errno.ENOENT, _s.MockReplace(ids.Stdev, 999, out _));
        Assert.Equal(Errno.ENOENT, _s.MockReplace(ids.Stdev, 0, out _));
        Assert.Equal(Errno.EINVAL, _s.MockReplace(ids.Stdev, ids.Idev, out _));
        Assert.Equal(Errno.EINVAL, _s.MockReplace(ids.Stdev, ids.Stdev, out _));
        Assert.Equal(Errno.EBUSY, _s.Destroy(ids.Hwpt));
    }

    [Fact]
    public void Shared_hwpt_survives_one_device_leaving_by_replace()
    {
        var ioas = _s.AllocIoas();
        var a = _s.AddMock(ioas);
        var b = _s.AddMock(ioas);
        var other = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.MockReplace(a.Stdev, other, out _));
        Assert.Equal(Errno.EBUSY, _s.Destroy(b.Hwpt));
        Assert.Equal(Errno.Ok, _s.MockReplace(a.Stdev, b.Hwpt, out var pt));
        Assert.Equal(b.Hwpt, pt);
    }
}
