using System.Runtime.CompilerServices;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_GET_DIRTY_BITMAP and the self-test's DIRTY op through
/// the dispatcher: layouts, the kernel's errno order (hw_pagetable.c, io_pagetable.c
/// iommufd_check_iova_range, selftest.c iommufd_test_dirty) and the bitmap the caller gets.
/// </summary>
public sealed class DirtyTrackingTests : IDisposable
{
    private const ulong Iova = Mock.ApertureStart;
    private const ulong Length = 0x10_0000;
    private const uint OpDirty = 13;
    private const uint TrackingEnable = 1;
    private const uint NoClear = 1;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _dev;
    private readonly uint _dirtyHwpt;
    private readonly uint _plainHwpt;
    private readonly ulong _bitmap;
    private readonly ulong _marks;

    public DirtyTrackingTests()
    {
        _ioas = _s.AllocIoas();
        // Huge pages off: the mock domains hold 2 KiB entries, one bit per mock page.
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionHugePages, 0, _ioas));
        _dev = _s.AddMock(_ioas);
        _s.MapFixed(_ioas, Iova, _s.Heap.Alloc(Length), Length);
        _dirtyHwpt = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptDirtyTracking);
        _plainHwpt = _s.AllocHwpt(_dev.Idev, _ioas);
        _bitmap = _s.Heap.Alloc(0x1000);
        _marks = _s.Heap.Alloc(0x1000);
    }

    public void Dispose() => _s.Dispose();

    private Errno SetTracking(uint hwptId, uint flags) =>
        Issue(Header.HwptSetDirtyTracking, new IommuHwptSetDirtyTracking
        {
            Size = Header.HwptSetDirtyTrackingSize,
            Flags = flags,
            HwptId = hwptId,
        });

    private static IommuHwptGetDirtyBitmap Bitmap(uint hwptId, ulong iova, ulong length, ulong pageSize, ulong data, uint flags = 0) => new()
    {
        Size = Header.HwptGetDirtyBitmapSize,
        HwptId = hwptId,
        Flags = flags,
        Iova = iova,
        Length = length,
        PageSize = pageSize,
        Data = data,
    };

    private Errno GetBitmap(IommuHwptGetDirtyBitmap cmd) => Issue(Header.HwptGetDirtyBitmap, cmd);

    private Errno Issue<T>(uint number, T cmd) where T : unmanaged => _s.Ioctl(number, _s.Heap.Place(cmd));

    /// <summary>The DIRTY op: marks pages whose bits are set in the bitmap at <paramref name="uptr"/>.</summary>
    private Errno MarkDirty(uint hwptId, ulong iova, ulong length, ulong pageSize, ulong uptr, out ulong marked)
    {
        var cmd = DevCmd.Test(OpDirty, hwptId);
        cmd.Dirty = new TestDirty { Iova = iova, Length = length, PageSize = pageSize, Uptr = uptr };
        var rc = _s.Ioctl(ref cmd);
        marked = cmd.Dirty.OutNrDirty;
        return rc;
    }

    [Fact]
    public void Layouts_match_the_uapi_header()
    {
        Assert.Equal(Header.HwptSetDirtyTrackingSize, Unsafe.SizeOf<IommuHwptSetDirtyTracking>());
        Assert.Equal(Header.HwptGetDirtyBitmapSize, Unsafe.SizeOf<IommuHwptGetDirtyBitmap>());
        Assert.Equal(48, Unsafe.SizeOf<TestDirty>());
        var probe = default(IommuTestCmd);
        Assert.Equal(16 + 40, (int)Unsafe.ByteOffset(ref Unsafe.As<IommuTestCmd, byte>(ref probe), ref Unsafe.As<ulong, byte>(ref probe.Dirty.OutNrDirty)));
    }

    [Fact]
    public void Set_tracking_checks_flags_then_the_hwpt_then_the_domain()
    {
        Assert.Equal(Errno.EOPNOTSUPP, SetTracking(9999, 2));
        Assert.Equal(Errno.ENOENT, SetTracking(9999, TrackingEnable));
        Assert.Equal(Errno.ENOENT, SetTracking(_ioas, TrackingEnable));
        Assert.Equal(Errno.ENOENT, SetTracking(_dev.Idev, TrackingEnable));
        Assert.Equal(Errno.EOPNOTSUPP, SetTracking(_plainHwpt, TrackingEnable));
        Assert.Equal(Errno.EOPNOTSUPP, SetTracking(_dev.Hwpt, 0)); // the automatic domain has no dirty tracking
        Assert.Equal(Errno.Ok, SetTracking(_dirtyHwpt, TrackingEnable));
        Assert.Equal(Errno.Ok, SetTracking(_dirtyHwpt, 0));
    }

    [Fact]
    public void Get_bitmap_checks_in_the_kernels_order()
    {
        var good = Bitmap(_dirtyHwpt, Iova, Length, Mock.PageSize, _bitmap);
        Assert.Equal(Errno.EOPNOTSUPP, GetBitmap(good with { HwptId = 9999, Flags = 2 }));
        Assert.Equal(Errno.EOPNOTSUPP, GetBitmap(good with { HwptId = 9999, Reserved = 1 }));
        Assert.Equal(Errno.ENOENT, GetBitmap(good with { HwptId = 9999 }));
        Assert.Equal(Errno.ENOENT, GetBitmap(good with { HwptId = _ioas }));
        Assert.Equal(Errno.EOVERFLOW, GetBitmap(good with { HwptId = _plainHwpt, Iova = ulong.MaxValue - 0x7ff, Length = 0x1000 }));
        Assert.Equal(Errno.EOVERFLOW, GetBitmap(good with { HwptId = _plainHwpt, Length = 0 }));
        Assert.Equal(Errno.EINVAL, GetBitmap(good with { HwptId = _plainHwpt, Iova = Iova + 0x400 }));
        Assert.Equal(Errno.EINVAL, GetBitmap(good with { HwptId = _plainHwpt, Length = Length - 0x400 }));
        Assert.Equal(Errno.EINVAL, GetBitmap(good with { HwptId = _plainHwpt, PageSize = 0 }));
        Assert.Equal(Errno.EINVAL, GetBitmap(good with { HwptId = _plainHwpt, PageSize = 0x3000 }));
        Assert.Equal(Errno.EINVAL, GetBitmap(good with { HwptId = _plainHwpt, PageSize = 0x1000, Iova = Iova + 0x800, Length = 0x1000 }));
        Assert.Equal(Errno.EOPNOTSUPP, GetBitmap(good with { HwptId = _plainHwpt }));
        Assert.Equal(Errno.EINVAL, GetBitmap(good with { Length = 2 * Length })); // past the mapping
        Assert.Equal(Errno.EINVAL, GetBitmap(good with { Iova = Iova - 0x1000 })); // before it
        Assert.Equal(Errno.EFAULT, GetBitmap(good with { Data = 0x10 }));
        Assert.Equal(Errno.Ok, GetBitmap(good));
    }

    [Fact]
    public void Marked_pages_come_back_once_or_every_time_with_no_clear()
    {
        Assert.Equal(Errno.Ok, SetTracking(_dirtyHwpt, TrackingEnable));
        // Pages 0, 2 and 4 of the first eight, and the last page of the range.
        _s.Heap.WriteBytes(_marks, [0b0001_0101]);
        _s.Heap.WriteBytes(_marks + 63, [0x80]);
        Assert.Equal(Errno.Ok, MarkDirty(_dirtyHwpt, Iova, Length, Mock.PageSize, _marks, out var marked));
        Assert.Equal(4UL, marked);

        var cmd = Bitmap(_dirtyHwpt, Iova, Length, Mock.PageSize, _bitmap, NoClear);
        for (var i = 0; i < 2; i++)
        {
            _s.Heap.WriteBytes(_bitmap, new byte[64]);
            Assert.Equal(Errno.Ok, GetBitmap(cmd));
            Assert.Equal(_s.Heap.ReadBytes(_marks, 64), _s.Heap.ReadBytes(_bitmap, 64));
        }
        _s.Heap.WriteBytes(_bitmap, new byte[64]);
        Assert.Equal(Errno.Ok, GetBitmap(cmd with { Flags = 0 }));
        Assert.Equal(_s.Heap.ReadBytes(_marks, 64), _s.Heap.ReadBytes(_bitmap, 64));
        _s.Heap.WriteBytes(_bitmap, new byte[64]);
        Assert.Equal(Errno.Ok, GetBitmap(cmd with { Flags = 0 }));
        Assert.All(_s.Heap.ReadBytes(_bitmap, 64), b => Assert.Equal(0, b));
    }

    [Fact]
    public void The_bitmap_may_start_at_any_byte_and_keeps_the_callers_other_bits()
    {
        Assert.Equal(Errno.Ok, SetTracking(_dirtyHwpt, TrackingEnable));
        _s.Heap.WriteBytes(_marks, [0b1000_0001]);
        Assert.Equal(Errno.Ok, MarkDirty(_dirtyHwpt, Iova, 8 * Mock.PageSize, Mock.PageSize, _marks, out _));
        var unaligned = _bitmap + 0xff1;
        _s.Heap.WriteBytes(unaligned, [0b0010_0000, 0xAA]);
        Assert.Equal(Errno.Ok, GetBitmap(Bitmap(_dirtyHwpt, Iova, 8 * Mock.PageSize, Mock.PageSize, unaligned)));
        Assert.Equal(new byte[] { 0b1010_0001, 0xAA }, _s.Heap.ReadBytes(unaligned, 2));
    }

    [Fact]
    public void The_dirty_op_checks_its_arguments_then_the_hwpt_then_tracking()
    {
        Assert.Equal(Errno.EINVAL, MarkDirty(9999, Iova, Length, 0, _marks, out _));
        Assert.Equal(Errno.EINVAL, MarkDirty(9999, Iova, 0, Mock.PageSize, _marks, out _));
        Assert.Equal(Errno.EINVAL, MarkDirty(9999, Iova + 1, Length, Mock.PageSize, _marks, out _));
        Assert.Equal(Errno.EINVAL, MarkDirty(9999, Iova, Length + 1, Mock.PageSize, _marks, out _));
        Assert.Equal(Errno.EINVAL, MarkDirty(9999, Iova, Length, Mock.PageSize, 0, out _));
        Assert.Equal(Errno.ENOENT, MarkDirty(9999, Iova, Length, Mock.PageSize, _marks, out _));
        Assert.Equal(Errno.EINVAL, MarkDirty(_dirtyHwpt, Iova, Length, Mock.PageSize, _marks, out _)); // tracking off
        Assert.Equal(Errno.EINVAL, MarkDirty(_plainHwpt, Iova, Length, Mock.PageSize, _marks, out _));
        Assert.Equal(Errno.Ok, SetTracking(_dirtyHwpt, TrackingEnable));
        Assert.Equal(Errno.EFAULT, MarkDirty(_dirtyHwpt, Iova, Length, Mock.PageSize, 0x10, out _));
        Assert.Equal(Errno.Ok, MarkDirty(_dirtyHwpt, Iova, Length, Mock.PageSize, _marks, out var marked));
        Assert.Equal(0UL, marked);
    }

    [Fact]
    public void Hw_info_reports_dirty_tracking_unless_the_device_cannot()
    {
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev), out var info));
        Assert.Equal(Mock.HwCapDirtyTracking, info.OutCapabilities & Mock.HwCapDirtyTracking);
        var noDirty = _s.AddMock(_s.AllocIoas(), Mock.DeviceNoDirty);
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(noDirty.Idev), out info));
        Assert.Equal(0UL, info.OutCapabilities & Mock.HwCapDirtyTracking);
        // The enforce rule: a device that cannot track gets no dirty-tracking HWPT and cannot join one.
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwptAlloc(DevCmd.HwptAlloc(noDirty.Idev, _ioas, Mock.HwptDirtyTracking), out _));
        Assert.Equal(Errno.EINVAL, _s.MockDomain(_dirtyHwpt, out _, Mock.DeviceNoDirty));
    }
}
