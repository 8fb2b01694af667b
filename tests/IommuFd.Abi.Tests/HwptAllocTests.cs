using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_HWPT_ALLOC of paging HWPTs on an IOAS (hw_pagetable.c iommufd_hwpt_alloc and
/// iommufd_hwpt_paging_alloc, the mock's domain_alloc_paging_flags).
/// </summary>
public sealed class HwptAllocTests : IDisposable
{
    private const ulong FullLast = ulong.MaxValue;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _dev;

    public HwptAllocTests()
    {
        _ioas = _s.AllocIoas(); // 1
        _dev = _s.AddMock(_ioas); // stdev 2, idev 3, hwpt 4
    }

    public void Dispose() => _s.Dispose();

    private Errno Alloc(IommuHwptAlloc cmd) => _s.HwptAlloc(cmd, out _);

    // ---- checks before any lookup ----

    [Fact]
    public void Reserved_field_is_EOPNOTSUPP()
    {
        Assert.Equal(Errno.EOPNOTSUPP, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas) with { Reserved = 1 }));
        Assert.Equal(Errno.EOPNOTSUPP, Alloc(DevCmd.HwptAlloc(0, 0) with { Reserved = 0x8000_0000 }));
        // __reserved2 (after fault_id) is not checked.
        Assert.Equal(Errno.Ok, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas) with { Reserved2 = 1 }));
    }

    [Fact]
    public void Data_type_none_with_a_length_is_EINVAL()
    {
        var data = _s.Heap.Alloc(64);
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, dataLen: 8, dataUptr: data)));
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(0, 0, dataLen: 1)));
    }

    [Fact]
    public void Data_type_without_a_length_is_EINVAL()
    {
        var data = _s.Heap.Alloc(64);
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, dataType: Mock.HwptDataSelftest, dataUptr: data)));
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(0, 0, dataType: 0xbeef)));
    }

    // ---- lookups ----

    [Fact]
    public void Unknown_device_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, Alloc(DevCmd.HwptAlloc(0, _ioas)));
        Assert.Equal(Errno.ENOENT, Alloc(DevCmd.HwptAlloc(999, _ioas)));
        // Only a device object will do.
        Assert.Equal(Errno.ENOENT, Alloc(DevCmd.HwptAlloc(_ioas, _ioas)));
        Assert.Equal(Errno.ENOENT, Alloc(DevCmd.HwptAlloc(_dev.Stdev, _ioas)));
        Assert.Equal(Errno.ENOENT, Alloc(DevCmd.HwptAlloc(_dev.Hwpt, _ioas)));
        // The device comes before the pt and the flags.
        Assert.Equal(Errno.ENOENT, Alloc(DevCmd.HwptAlloc(0, 999, flags: 0xffff_ffff)));
    }

    [Fact]
    public void Unknown_pt_is_EINVAL_not_ENOENT()
    {
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(_dev.Idev, 0)));
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(_dev.Idev, 999)));
        // Before the flags.
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(_dev.Idev, 999, flags: 0xffff_ffff)));
    }

    [Fact]
    public void Pt_of_another_kind_is_EINVAL()
    {
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(_dev.Idev, _dev.Idev)));
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(_dev.Idev, _dev.Stdev)));
    }

    // ---- flags ----

    [Fact]
    public void Every_flag_but_nest_parent_is_EOPNOTSUPP()
    {
        // alloc_hwpt in the selftest: flags ~IOMMU_HWPT_ALLOC_NEST_PARENT.
        Assert.Equal(Errno.EOPNOTSUPP, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, flags: ~Mock.HwptNestParent)));
        Assert.Equal(Errno.EOPNOTSUPP, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, flags: 1u << 4)));
        Assert.Equal(Errno.EOPNOTSUPP, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, flags: 1u << 31)));
    }

    [Fact]
    public void Fault_id_valid_with_nest_parent_is_EOPNOTSUPP()
    {
        Assert.Equal(Errno.EOPNOTSUPP, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, flags: Mock.HwptFaultIdValid | Mock.HwptNestParent)));
        Assert.Equal(5u, _s.AllocIoas());
    }

    [Fact]
    public void Dirty_tracking_on_a_no_dirty_device_is_EOPNOTSUPP()
    {
        var noDirty = _s.AddMock(_ioas, Mock.DeviceNoDirty);
        Assert.Equal(Errno.EOPNOTSUPP, Alloc(DevCmd.HwptAlloc(noDirty.Idev, _ioas, flags: Mock.HwptDirtyTracking)));
        // Without the flag the same device is fine, and a normal device may ask for dirty tracking.
        _s.AllocHwpt(noDirty.Idev, _ioas);
        _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptDirtyTracking);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(Mock.HwptNestParent)]
    [InlineData(Mock.HwptDirtyTracking)]
    [InlineData(Mock.HwptPasid)]
    public void Supported_flags_give_a_new_manual_hwpt(uint flags)
    {
        Assert.Equal(Errno.Ok, _s.HwptAlloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, flags), out var after));
        Assert.Equal(5u, after.OutHwptId);
        Assert.NotEqual(_dev.Hwpt, after.OutHwptId);
        // A manual HWPT lives on its own: DESTROY removes it, and it holds the IOAS meanwhile.
        Assert.Equal(Errno.Ok, _s.Destroy(_dev.Stdev));
        Assert.Equal(Errno.EBUSY, _s.Destroy(_ioas));
        Assert.Equal(Errno.Ok, _s.Destroy(after.OutHwptId));
        Assert.Equal(Errno.ENOENT, _s.Destroy(after.OutHwptId));
        Assert.Equal(Errno.Ok, _s.Destroy(_ioas));
    }

    [Fact]
    public void Flags_0_and_nest_parent_give_distinct_hwpts()
    {
        var plain = _s.AllocHwpt(_dev.Idev, _ioas);
        var parent = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptNestParent);
        Assert.NotEqual(plain, parent);
        Assert.Equal(Errno.Ok, _s.Destroy(parent));
        Assert.Equal(Errno.Ok, _s.Destroy(plain));
    }

    [Fact]
    public void Manual_hwpt_is_never_chosen_as_an_automatic_one()
    {
        var other = _s.AllocIoas();
        var manual = _s.AllocHwpt(_dev.Idev, other);
        var ids = _s.AddMock(other);
        Assert.NotEqual(manual, ids.Hwpt);
    }

    // ---- effect on the IOAS ----

    [Fact]
    public void Manual_hwpt_narrows_iova_ranges_even_without_a_device()
    {
        var other = _s.AllocIoas();
        Assert.Equal([(0ul, FullLast)], _s.Ranges(other, out var alignment));
        Assert.Equal(1ul, alignment);

        var hwpt = _s.AllocHwpt(_dev.Idev, other);
        Assert.Equal([(Mock.ApertureStart, Mock.ApertureLast)], _s.Ranges(other, out alignment));
        Assert.Equal(Mock.PageSize, alignment);
        Assert.Equal(Errno.EBUSY, _s.Destroy(other));

        Assert.Equal(Errno.Ok, _s.Destroy(hwpt));
        Assert.Equal([(0ul, FullLast)], _s.Ranges(other, out alignment));
        Assert.Equal(1ul, alignment);
        Assert.Equal(Errno.Ok, _s.Destroy(other));
    }

    [Fact]
    public void Manual_hwpt_on_an_ioas_with_a_mapping_outside_the_aperture_is_EADDRINUSE()
    {
        var other = _s.AllocIoas();
        _s.MapFixed(other, 0x1000, _s.Heap.Alloc(0x1000), 0x1000);
        Assert.Equal(Errno.EADDRINUSE, Alloc(DevCmd.HwptAlloc(_dev.Idev, other)));
        Assert.Equal([(0ul, FullLast)], _s.Ranges(other, out _));
        Assert.Equal(Errno.Ok, _s.Destroy(other));
    }

    [Fact]
    public void Manual_hwpt_pins_and_maps_what_the_ioas_maps()
    {
        var other = _s.AllocIoas();
        var buffer = _s.Heap.Alloc(0x4000);
        _s.MapFixed(other, Mock.ApertureStart, buffer, 0x4000);
        Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x4000, 0));
        var hwpt = _s.AllocHwpt(_dev.Idev, other);
        Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x4000, 1));
        Assert.Equal(Errno.Ok, _s.CheckMap(hwpt, Mock.ApertureStart, 0x4000, buffer));
        Assert.Equal(Errno.Ok, _s.Destroy(hwpt));
        Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x4000, 0));
    }

    [Fact]
    public void Manual_hwpt_with_a_device_attached_cannot_be_destroyed()
    {
        var h0 = _s.AllocHwpt(_dev.Idev, _ioas);
        var h1 = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptNestParent);

        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, h0, out var pt));
        Assert.Equal(h0, pt);
        // The automatic HWPT lost its only device.
        Assert.Equal(Errno.ENOENT, _s.Destroy(_dev.Hwpt));
        Assert.Equal(Errno.EBUSY, _s.Destroy(h0));

        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, h1, out pt));
        Assert.Equal(h1, pt);
        Assert.Equal(Errno.EBUSY, _s.Destroy(h1));
        // A manual HWPT outlives its last device.
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, _ioas, out _));
        Assert.Equal(Errno.Ok, _s.Destroy(h1));

        // MOCK_DOMAIN straight onto the manual HWPT.
        var direct = _s.AddMock(h0);
        Assert.Equal(h0, direct.Hwpt);
        Assert.Equal(Errno.EBUSY, _s.Destroy(h0));
        Assert.Equal(Errno.Ok, _s.Destroy(direct.Stdev));
        Assert.Equal(Errno.Ok, _s.Destroy(h0));
    }

    // ---- IOMMU_HWPT_DATA_SELFTEST ----

    [Fact]
    public void Selftest_data_with_the_huge_pagetable_has_its_native_aperture_and_4k_alignment()
    {
        var other = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.HwptAllocSelftest(_dev.Idev, other, 8, Mock.PagetableHuge, out var hwpt));
        Assert.NotEqual(0u, hwpt);

        var ranges = _s.Ranges(other, out var alignment);
        Assert.Single(ranges);
        Assert.Equal(0ul, ranges[0].Start);
        Assert.True(ranges[0].Last >= Mock.ApertureLast, $"last 0x{ranges[0].Last:x}");
        // pgsize_bitmap is forced to 1 MiB | PAGE_SIZE.
        Assert.Equal(4096ul, alignment);

        // A 2 KiB-aligned mapping is now refused; a 4 KiB one maps and translates.
        var buffer = _s.Heap.Alloc(0x2000);
        Assert.Equal(Errno.EINVAL, _s.Map(Cmd.MapFixed(other, 0x800, buffer, 0x800), out _));
        _s.MapFixed(other, 0x1000, buffer, 0x2000);
        Assert.Equal(Errno.Ok, _s.CheckMap(hwpt, 0x1000, 0x2000, buffer));
        Assert.Equal(Errno.EINVAL, _s.CheckMap(hwpt, 0x1800, 0x800, buffer + 0x800));
    }

    [Fact]
    public void Selftest_data_with_the_default_pagetable_behaves_like_no_data()
    {
        var other = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.HwptAllocSelftest(_dev.Idev, other, 8, Mock.PagetableDefault, out _));
        Assert.Equal([(Mock.ApertureStart, Mock.ApertureLast)], _s.Ranges(other, out var alignment));
        Assert.Equal(Mock.PageSize, alignment);
    }

    [Fact]
    public void Selftest_data_of_4_bytes_is_enough()
    {
        // min_len is offsetofend(iotlb); pagetable_type then reads as 0 (DEFAULT) even if memory says 1.
        var other = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.HwptAllocSelftest(_dev.Idev, other, 4, Mock.PagetableHuge, out _));
        Assert.Equal([(Mock.ApertureStart, Mock.ApertureLast)], _s.Ranges(other, out _));
    }

    [Theory]
    [InlineData(9u)] // longer than struct iommu_hwpt_selftest: EINVAL, not E2BIG
    [InlineData(16u)]
    [InlineData(3u)] // shorter than offsetofend(iotlb)
    [InlineData(1u)]
    public void Selftest_data_length_outside_4_to_8_is_EINVAL(uint length)
    {
        var other = _s.AllocIoas();
        Assert.Equal(Errno.EINVAL, _s.HwptAllocSelftest(_dev.Idev, other, length, Mock.PagetableDefault, out _));
        Assert.Equal([(0ul, FullLast)], _s.Ranges(other, out _));
    }

    [Fact]
    public void Selftest_data_at_null_is_EFAULT()
    {
        Assert.Equal(Errno.EFAULT, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, dataType: Mock.HwptDataSelftest, dataLen: 8)));
        Assert.Equal(Errno.EFAULT, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas, dataType: Mock.HwptDataSelftest, dataLen: 8, dataUptr: UserHeap.UnmappedPointer)));
        Assert.Equal(5u, _s.AllocIoas());
    }

    [Theory]
    [InlineData(3u)]
    [InlineData(7u)]
    [InlineData(0xffff_ffffu)]
    public void Unknown_pagetable_type_is_EOPNOTSUPP(uint type)
    {
        var other = _s.AllocIoas();
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwptAllocSelftest(_dev.Idev, other, 8, type, out _));
        Assert.Equal([(0ul, FullLast)], _s.Ranges(other, out _));
    }

    [Theory]
    [InlineData(1u)]
    [InlineData(0xbeefu)]
    [InlineData(0xdeadbeefu)]
    public void Unknown_data_type_is_EOPNOTSUPP(uint dataType)
    {
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwptAllocSelftest(_dev.Idev, _ioas, 8, 0, out _, dataType));
        // The type is refused before the length is looked at.
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwptAllocSelftest(_dev.Idev, _ioas, 100, 0, out _, dataType));
    }

    // ---- the struct ----

    [Fact]
    public void Minimum_size_of_24_is_enough_and_gets_24_bytes_back()
    {
        var arg = _s.Heap.Alloc(64);
        _s.Heap.Write(arg, DevCmd.HwptAlloc(_dev.Idev, _ioas) with { Size = Header.HwptAllocMinSize });
        _s.Heap.WriteBytes(arg + 24, [0x11, 0x22, 0x33, 0x44]);
        Assert.Equal(Errno.Ok, _s.IoctlAt<IommuHwptAlloc>(arg, out var after));
        Assert.Equal(5u, after.OutHwptId);
        Assert.Equal([0x11, 0x22, 0x33, 0x44], _s.Heap.ReadBytes(arg + 24, 4));
    }

    [Fact]
    public void Unwritable_result_is_EFAULT_and_the_hwpt_is_taken_back()
    {
        // out_hwpt_id (offset 16) is on a read-only page: the respond fails and the new HWPT is
        // aborted, so the IOAS is as before and its ID is free again.
        var other = _s.AllocIoas(); // 5
        var arg = _s.Heap.AllocStraddlingReadOnly(16);
        _s.Heap.WritePrefix(arg, DevCmd.HwptAlloc(_dev.Idev, other), 16);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.HwptAlloc, arg));
        Assert.Equal([(0ul, FullLast)], _s.Ranges(other, out _));
        Assert.Equal(Errno.Ok, _s.Destroy(other));
        Assert.Equal(5u, _s.AllocIoas());
    }

    [Fact]
    public void Size_23_is_EINVAL()
    {
        Assert.Equal(Errno.EINVAL, Alloc(DevCmd.HwptAlloc(_dev.Idev, _ioas) with { Size = 23 }));
    }
}
