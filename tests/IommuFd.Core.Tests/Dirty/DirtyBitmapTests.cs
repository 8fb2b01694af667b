using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Dirty;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Dirty;

/// <summary>
/// The managed API of dirty tracking: a paging HWPT allocated for it, enabled, written by the
/// mock device, and read back as a bitmap in user memory with the kernel's bit semantics.
/// </summary>
public sealed class DirtyBitmapTests : IDisposable
{
    private const ulong KiB = 1024, MiB = 1024 * KiB;
    private const ulong Buffer = 0x4000_0000;
    private const ulong BufferSize = 128 * MiB;
    private const ulong Bitmap = 0x1_0000_0000;
    private const ulong BitmapSize = 64 * KiB;
    private const ulong Iova = MockDomain.ApertureStart;

    private readonly SimulatedUserMemory _memory = new();
    private readonly IommufdContext _context;
    private readonly IoasId _ioas;
    private readonly DeviceId _device;

    public DirtyBitmapTests()
    {
        _memory.Map(Buffer, BufferSize);
        _memory.Map(Bitmap, BitmapSize);
        _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _context.CreateMockDevice(_ioas, MockDeviceFlags.None, out var selftest, out _).ThrowIfError("mock");
        _device = selftest.Device.TypedId;
    }

    public void Dispose() => _context.Dispose();

    private void MapBuffer(ulong length)
    {
        var iova = Iova;
        _context.Map(_ioas, Buffer, length, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
    }

    private HwptId DirtyHwpt(IDriverData? data = null)
    {
        _context.AllocHwpt(_device, _ioas, HwptAllocFlags.DirtyTracking, data, out var hwpt).ThrowIfError("alloc");
        return hwpt;
    }

    private MockDomain DomainOf(HwptId id)
    {
        using var hold = _context.Objects.Hold<HwptPaging>(id);
        hold.Status.ThrowIfError("hold");
        return (MockDomain)hold.Value.Domain;
    }

    private byte[] BitmapBytes(int count, ulong at = Bitmap)
    {
        var bytes = new byte[count];
        _memory.Read(at, bytes).ThrowIfError("read bitmap");
        return bytes;
    }

    private Errno Get(HwptId hwpt, ulong iova, ulong length, ulong pageSize, ulong data = Bitmap, bool keep = false) =>
        _context.GetDirtyBitmap(hwpt, new DirtyBitmapRequest(iova, length, pageSize, data, keep));

    [Fact]
    public void Dirty_pages_become_bits_and_a_read_clears_them()
    {
        _context.SetHugePages(_ioas, false).ThrowIfError("huge off");
        MapBuffer(MiB);
        var hwpt = DirtyHwpt();
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable");
        var domain = DomainOf(hwpt);
        Assert.True(domain.RecordWrite(Iova));
        Assert.True(domain.RecordWrite(Iova + 9 * MockDomain.PageSize + 1));
        Assert.True(domain.RecordWrite(Iova + MiB - 1));

        Assert.Equal(Errno.Ok, Get(hwpt, Iova, MiB, MockDomain.PageSize));
        var bits = BitmapBytes(64);
        Assert.Equal(0b0000_0001, bits[0]);
        Assert.Equal(0b0000_0010, bits[1]);
        Assert.Equal(0b1000_0000, bits[63]);
        Assert.Equal(3, bits.Sum(b => System.Numerics.BitOperations.PopCount(b)));

        // Cleared: a second read adds nothing (and the caller's bits are left as they were).
        Assert.Equal(Errno.Ok, Get(hwpt, Iova, MiB, MockDomain.PageSize));
        Assert.Equal(bits, BitmapBytes(64));
        _memory.Write(Bitmap, new byte[64]).ThrowIfError("zero");
        Assert.Equal(Errno.Ok, Get(hwpt, Iova, MiB, MockDomain.PageSize));
        Assert.All(BitmapBytes(64), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Keep_dirty_reports_the_same_pages_again()
    {
        _context.SetHugePages(_ioas, false).ThrowIfError("huge off");
        MapBuffer(MiB);
        var hwpt = DirtyHwpt();
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable");
        DomainOf(hwpt).RecordWrite(Iova + 4 * KiB);
        for (var i = 0; i < 2; i++)
        {
            _memory.Write(Bitmap, new byte[8]).ThrowIfError("zero");
            Assert.Equal(Errno.Ok, Get(hwpt, Iova, MiB, 4 * KiB, keep: true));
            Assert.Equal(0b10, BitmapBytes(1)[0]);
        }
    }

    [Fact]
    public void A_page_size_larger_than_the_leaf_sets_one_bit_for_many_leaves()
    {
        _context.SetHugePages(_ioas, false).ThrowIfError("huge off");
        MapBuffer(MiB);
        var hwpt = DirtyHwpt();
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable");
        DomainOf(hwpt).RecordWrite(Iova + 70 * KiB);
        Assert.Equal(Errno.Ok, Get(hwpt, Iova, MiB, 64 * KiB));
        Assert.Equal(0b10, BitmapBytes(2)[0]);
        Assert.Equal(0, BitmapBytes(2)[1]);
    }

    [Fact]
    public void A_huge_leaf_crossing_bitmap_windows_sets_every_bit_and_is_read_once()
    {
        // 1 MiB leaves; the bitmap starts 4 KiB into one so a window (32768 bits of 2 KiB) ends inside a leaf.
        MapBuffer(BufferSize);
        var hwpt = DirtyHwpt(HugeData());
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable");
        var start = Iova + 4 * KiB;
        var windowEnd = start + 32768 * MockDomain.PageSize; // first IOVA of the second window
        var leaf = windowEnd & ~(MiB - 1);
        Assert.True(DomainOf(hwpt).RecordWrite(leaf + 5));
        Assert.Equal(Errno.Ok, Get(hwpt, start, BufferSize - 8 * KiB, MockDomain.PageSize));

        var bitmap = BitmapBytes((int)(BufferSize / MockDomain.PageSize / 8));
        var firstBit = (int)((leaf - start) / MockDomain.PageSize);
        for (var bit = 0; bit < bitmap.Length * 8; bit++)
        {
            var expected = bit >= firstBit && bit < firstBit + 512;
            Assert.True(expected == ((bitmap[bit / 8] >> (bit % 8) & 1) != 0), $"bit {bit}");
        }
        _memory.Write(Bitmap, new byte[bitmap.Length]).ThrowIfError("zero");
        Assert.Equal(Errno.Ok, Get(hwpt, start, BufferSize - 8 * KiB, MockDomain.PageSize));
        Assert.All(BitmapBytes(bitmap.Length), b => Assert.Equal(0, b));
    }

    [Fact]
    public void Enabling_tracking_discards_what_was_dirty_before()
    {
        MapBuffer(MiB);
        var hwpt = DirtyHwpt();
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable");
        DomainOf(hwpt).RecordWrite(Iova);
        _context.SetDirtyTracking(hwpt, false).ThrowIfError("disable");
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable again");
        Assert.Equal(Errno.Ok, Get(hwpt, Iova, MiB, 4 * KiB));
        Assert.Equal(0, BitmapBytes(1)[0]);
    }

    [Fact]
    public void The_selftest_dirty_op_counts_the_bits_it_was_given()
    {
        _context.SetHugePages(_ioas, false).ThrowIfError("huge off");
        MapBuffer(MiB);
        var hwpt = DirtyHwpt();
        _memory.Write(Bitmap, [0b0101_0001, 0, 0x80]).ThrowIfError("bits");
        // Tracking off: the mock refuses (EINVAL), as its set_dirty needs MOCK_DIRTY_TRACK.
        Assert.Equal(Errno.EINVAL, _context.MockMarkDirty(hwpt, Iova, 24 * MockDomain.PageSize, MockDomain.PageSize, Bitmap, out _));
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable");
        Assert.Equal(Errno.Ok, _context.MockMarkDirty(hwpt, Iova, 24 * MockDomain.PageSize, MockDomain.PageSize, Bitmap, out var marked));
        Assert.Equal(4UL, marked);

        _memory.Write(Bitmap, new byte[3]).ThrowIfError("zero");
        Assert.Equal(Errno.Ok, Get(hwpt, Iova, 24 * MockDomain.PageSize, MockDomain.PageSize));
        Assert.Equal(new byte[] { 0b0101_0001, 0, 0x80 }, BitmapBytes(3));
    }

    [Fact]
    public void Range_and_capability_errors_come_in_the_kernels_order()
    {
        MapBuffer(MiB);
        var dirty = DirtyHwpt();
        _context.AllocHwpt(_device, _ioas, HwptAllocFlags.None, null, out var plain).ThrowIfError("plain");

        Assert.Equal(Errno.ENOENT, Get(new HwptId(999), Iova, MiB, 4 * KiB));
        Assert.Equal(Errno.ENOENT, Get(new HwptId(_ioas.Value), Iova, MiB, 4 * KiB));
        Assert.Equal(Errno.EOVERFLOW, Get(plain, ulong.MaxValue - 4095, 8 * KiB, 4 * KiB));
        Assert.Equal(Errno.EINVAL, Get(plain, Iova + 1024, MiB, 1024)); // not IOAS-aligned (2 KiB)
        Assert.Equal(Errno.EINVAL, Get(plain, Iova, MiB, 0));
        Assert.Equal(Errno.EINVAL, Get(plain, Iova, MiB, 3 * KiB));
        Assert.Equal(Errno.EINVAL, Get(plain, Iova + 2 * KiB, MiB, 4 * KiB)); // not page-size aligned
        Assert.Equal(Errno.EOPNOTSUPP, Get(plain, Iova, MiB, 4 * KiB)); // range fine, no dirty tracking
        Assert.Equal(Errno.EOPNOTSUPP, _context.SetDirtyTracking(plain, true));
        Assert.Equal(Errno.EINVAL, Get(dirty, Iova, 2 * MiB, 4 * KiB)); // runs past the mapping
        Assert.Equal(Errno.EINVAL, Get(dirty, Iova - 64 * KiB, 128 * KiB, 4 * KiB)); // starts before it
        Assert.Equal(Errno.EFAULT, Get(dirty, Iova, MiB, 4 * KiB, data: 0x10));
        Assert.Equal(Errno.Ok, Get(dirty, Iova, MiB, 4 * KiB));
    }

    [Fact]
    public void A_bad_bitmap_fails_before_the_dirty_bits_are_cleared()
    {
        _context.SetHugePages(_ioas, false).ThrowIfError("huge off");
        MapBuffer(MiB);
        var hwpt = DirtyHwpt();
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable");
        DomainOf(hwpt).RecordWrite(Iova);
        Assert.Equal(Errno.EFAULT, Get(hwpt, Iova, MiB, 4 * KiB, data: 0x10));
        Assert.Equal(Errno.Ok, Get(hwpt, Iova, MiB, 4 * KiB));
        Assert.Equal(1, BitmapBytes(1)[0]);
    }

    [Fact]
    public void Reading_a_large_range_allocates_nothing_per_page()
    {
        _context.SetHugePages(_ioas, false).ThrowIfError("huge off");
        MapBuffer(BufferSize);
        var hwpt = DirtyHwpt();
        _context.SetDirtyTracking(hwpt, true).ThrowIfError("enable");
        var domain = DomainOf(hwpt);
        for (var iova = Iova; iova < Iova + BufferSize; iova += 10 * 4 * KiB)
            domain.RecordWrite(iova);
        Assert.Equal(Errno.Ok, Get(hwpt, Iova, BufferSize, 4 * KiB)); // warm up the pool and the JIT
        for (var iova = Iova; iova < Iova + BufferSize; iova += 10 * 4 * KiB)
            domain.RecordWrite(iova);
        var before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Equal(Errno.Ok, Get(hwpt, Iova, BufferSize, 4 * KiB));
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // 32768 pages, 3277 of them dirty: a per-page allocation would be hundreds of KiB.
        Assert.True(allocated < 4096, $"{allocated} bytes allocated");
    }

    /// <summary>struct iommu_hwpt_selftest { iotlb = 0; pagetable_type = MOCK_IOMMUPT_HUGE }.</summary>
    private static ManagedDriverData HugeData() =>
        new(MockIommuDriver.HwptDataSelftest, [0, 0, 0, 0, (byte)MockPageTableType.Huge, 0, 0, 0]);
}
