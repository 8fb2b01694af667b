using System.Buffers.Binary;
using System.Runtime.InteropServices;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_VIOMMU_ALLOC on a nesting parent, IOMMU_VDEVICE_ALLOC, IOMMU_VEVENTQ_ALLOC and
/// IOMMU_HW_QUEUE_ALLOC through the dispatcher, with the kernel's errnos (viommu.c, eventq.c and
/// the mock's selftest.c), plus HWPT_INVALIDATE on a vIOMMU ID and the selftest's TRIGGER_VEVENT.
/// </summary>
public sealed class ViommuObjectsAbiTests : IDisposable
{
    private const uint TypeSelftest = 0xdeadbeef;
    private const uint VeventqTypeSelftest = 0xbeefbeef;
    private const uint HwQueueTypeSelftest = 0xdeadbeef;
    private const uint InvalidateDataSelftest = 0xdeadbeef;
    private const uint OpTriggerVevent = 17;
    private const int VeventqAllocSize = 32;
    private const int HwQueueAllocSize = 40;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _mock;
    private readonly uint _parent;

    public ViommuObjectsAbiTests()
    {
        _ioas = _s.AllocIoas();
        _mock = _s.AddMock(_ioas);
        var hwpt = DevCmd.HwptAlloc(_mock.Idev, _ioas, Mock.HwptNestParent);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref hwpt));
        _parent = hwpt.OutHwptId;
    }

    public void Dispose() => _s.Dispose();

    private uint Viommu()
    {
        var cmd = DevCmd.ViommuAlloc(_mock.Idev, _parent, TypeSelftest);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.NotEqual(0u, cmd.OutViommuId);
        return cmd.OutViommuId;
    }

    private Errno Veventq(IommuVeventqAlloc cmd, out IommuVeventqAlloc after)
    {
        var rc = _s.Ioctl(ref cmd);
        after = cmd;
        return rc;
    }

    private static IommuVeventqAlloc VeventqCmd(uint viommu, uint type = VeventqTypeSelftest, uint depth = 2) =>
        new() { Size = VeventqAllocSize, ViommuId = viommu, Type = type, VeventqDepth = depth };

    private static IommuHwQueueAlloc HwQueueCmd(uint viommu, uint index, ulong iova, ulong length, uint type = HwQueueTypeSelftest) =>
        new() { Size = HwQueueAllocSize, ViommuId = viommu, Type = type, Index = index, NestingParentIova = iova, Length = length };

    [Fact]
    public void Struct_sizes_are_the_kernels()
    {
        Assert.Equal(VeventqAllocSize, Marshal.SizeOf<IommuVeventqAlloc>());
        Assert.Equal(HwQueueAllocSize, Marshal.SizeOf<IommuHwQueueAlloc>());
    }

    [Fact]
    public void Viommu_over_a_nesting_parent_and_the_negative_cases()
    {
        var viommu = Viommu();
        var bad = DevCmd.ViommuAlloc(_mock.Idev, 0, TypeSelftest);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref bad));
        var plain = DevCmd.HwptAlloc(_mock.Idev, _ioas);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref plain));
        bad = DevCmd.ViommuAlloc(_mock.Idev, plain.OutHwptId, TypeSelftest);
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref bad));
        bad = DevCmd.ViommuAlloc(_mock.Idev, _parent, 0xdead);
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref bad));
        Assert.Equal(Errno.EBUSY, _s.Destroy(_parent));
        Assert.Equal(Errno.Ok, _s.Destroy(viommu));
    }

    [Fact]
    public void Selftest_data_comes_back_with_the_mmap_offset_and_length()
    {
        var data = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(data, 0xbeef);
        var at = _s.Heap.Alloc(24);
        _s.Memory.Write(at, data).ThrowIfError("data");
        var cmd = DevCmd.ViommuAlloc(_mock.Idev, _parent, TypeSelftest) with { DataLen = 24, DataUptr = at };
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        _s.Memory.Read(at, data).ThrowIfError("read back");
        Assert.Equal(0xbeefu, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(4)));
        var offset = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(8));
        var length = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(16));
        Assert.Equal(2 * CpuPage.Size, length);
        Assert.Equal(0UL, offset % CpuPage.Size);
        Assert.Equal(Errno.Ok, _s.Context.FindViommuMmap(offset, length, out _));
        // A bad pointer with a length is EFAULT, and nothing is left behind.
        cmd = DevCmd.ViommuAlloc(_mock.Idev, _parent, TypeSelftest) with { DataLen = 24, DataUptr = UserHeap.UnmappedPointer };
        Assert.Equal(Errno.EFAULT, _s.Ioctl(ref cmd));
    }

    [Fact]
    public void Vdevice_is_one_per_device_and_virtual_id()
    {
        var viommu = Viommu();
        var cmd = DevCmd.VdeviceAlloc(viommu, _mock.Idev, 0x99);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        var again = DevCmd.VdeviceAlloc(viommu, _mock.Idev, 0x99);
        Assert.Equal(Errno.EEXIST, _s.Ioctl(ref again));
        Assert.Equal(Errno.EBUSY, _s.Destroy(viommu));
        // The device goes: the vDEVICE's ID is dead (ENOENT), and the vIOMMU is free again.
        Assert.Equal(Errno.Ok, _s.Destroy(_mock.Stdev));
        Assert.Equal(Errno.ENOENT, _s.Destroy(cmd.OutVdeviceId));
        Assert.Equal(Errno.Ok, _s.Destroy(viommu));
    }

    [Fact]
    public void Veventq_checks_and_records_read_from_its_fd()
    {
        var viommu = Viommu();
        Assert.Equal(Errno.EOPNOTSUPP, Veventq(VeventqCmd(viommu) with { Flags = 1 }, out _));
        Assert.Equal(Errno.EOPNOTSUPP, Veventq(VeventqCmd(viommu) with { Reserved = 1 }, out _));
        Assert.Equal(Errno.EOPNOTSUPP, Veventq(VeventqCmd(viommu, type: 0), out _));
        Assert.Equal(Errno.EINVAL, Veventq(VeventqCmd(viommu, depth: 0), out _));
        Assert.Equal(Errno.ENOENT, Veventq(VeventqCmd(999), out _));
        Assert.Equal(Errno.Ok, Veventq(VeventqCmd(viommu), out var created));
        Assert.Equal(Errno.EEXIST, Veventq(VeventqCmd(viommu), out _));

        var vdev = DevCmd.VdeviceAlloc(viommu, _mock.Idev, 0x99);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref vdev));
        var nestedData = _s.Heap.Alloc(8);
        var nested = DevCmd.HwptAlloc(_mock.Idev, viommu, 0, Mock.HwptDataSelftest, 8, nestedData);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref nested));
        Assert.Equal(Errno.Ok, _s.MockReplace(_mock.Stdev, nested.OutHwptId, out _));
        var trigger = DevCmd.Test(OpTriggerVevent) with { TriggerVeventDevId = _mock.Idev };
        Assert.Equal(Errno.Ok, _s.Ioctl(ref trigger));

        var file = Assert.IsAssignableFrom<IObjectFileOperations>(_s.Host.Files.Lookup((int)created.OutVeventqFd));
        var buffer = _s.Heap.Alloc(64);
        Assert.Equal(Errno.Ok, file.Read(_s.Memory, buffer, 11, out var done));
        Assert.Equal(0UL, done);
        Assert.Equal(Errno.Ok, file.Read(_s.Memory, buffer, 64, out done));
        Assert.Equal(12UL, done);
        var record = new byte[12];
        _s.Memory.Read(buffer, record).ThrowIfError("record");
        Assert.Equal(0x99u, BinaryPrimitives.ReadUInt32LittleEndian(record.AsSpan(8)));
        Assert.Equal(Errno.EINVAL, file.Write(_s.Memory, buffer, 12, out _));
        Assert.Equal(Errno.EBUSY, _s.Destroy(created.OutVeventqId));
    }

    [Fact]
    public void Hw_queue_checks_come_before_the_lookup()
    {
        var viommu = Viommu();
        var cmd = HwQueueCmd(viommu, 0, Mock.ApertureStart, CpuPage.Size) with { Flags = 1 };
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
        cmd = HwQueueCmd(999, 0, Mock.ApertureStart, CpuPage.Size, type: 0);
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
        cmd = HwQueueCmd(999, 0, Mock.ApertureStart, 0);
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
        cmd = HwQueueCmd(999, 0, ulong.MaxValue, CpuPage.Size);
        Assert.Equal(Errno.EOVERFLOW, _s.Ioctl(ref cmd));
        cmd = HwQueueCmd(999, 0, Mock.ApertureStart, CpuPage.Size);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
        cmd = HwQueueCmd(viommu, 0, Mock.ApertureStart, CpuPage.Size);
        Assert.Equal(Errno.ENOENT, _s.Ioctl(ref cmd));
        var iova = _s.MapAuto(_ioas, _s.Heap.Alloc(CpuPage.Size), CpuPage.Size);
        cmd = HwQueueCmd(viommu, 0, iova, CpuPage.Size);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(Errno.EBUSY, _s.Unmap(_ioas, iova, CpuPage.Size, out _));
        Assert.Equal(Errno.Ok, _s.Destroy(cmd.OutHwQueueId));
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, iova, CpuPage.Size, out _));
    }

    [Fact]
    public void Invalidate_on_a_viommu_takes_its_own_data_type()
    {
        var viommu = Viommu();
        var entries = _s.Heap.Alloc(24);
        var cmd = DevCmd.Invalidate(viommu, entries, InvalidateDataSelftest, 12, 0);
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        cmd = DevCmd.Invalidate(viommu, entries, 0xdadbeef, 12, 1);
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
        Assert.Equal(0u, cmd.EntryNum);
    }
}
