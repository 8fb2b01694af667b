using System.Buffers.Binary;
using IommuFd.Core;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core.Tests.Viommu;

/// <summary>
/// vIOMMUs, vDEVICEs and HW queues through the managed API, against the mock driver: who uses
/// whom (so DESTROY order is enforced), the vDEVICE rules (one per device, one per virtual ID,
/// attach through it, tombstone when its device goes) and a HW queue's locked pages.
/// </summary>
public sealed class ViommuObjectTests : IDisposable
{
    private const ulong Buffer = 0x10_0000;
    private readonly SimulatedUserMemory _memory = new();
    private readonly IommufdContext _context;
    private readonly IoasId _ioas;
    private readonly SelftestDevice _selftest;
    private readonly DeviceId _device;
    private readonly HwptId _parent;

    public ViommuObjectTests()
    {
        _memory.Map(Buffer, 4 * CpuPage.Size);
        _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _context.CreateMockDevice(_ioas, MockDeviceFlags.None, out _selftest, out _).ThrowIfError("mock");
        _device = _selftest.Device.TypedId;
        _context.AllocHwpt(_device, _ioas, HwptAllocFlags.NestParent, null, out _parent).ThrowIfError("parent");
    }

    public void Dispose() => _context.Dispose();

    private static ManagedDriverData NestedData() => new(MockIommuDriver.HwptDataSelftest, new byte[8]);

    private Core.VirtualIommu.Viommu NewViommu()
    {
        _context.AllocViommu(_device, _parent, MockViommuDriver.TypeSelftest, null, out var viommu).ThrowIfError("viommu");
        return viommu!;
    }

    [Fact]
    public void Viommu_uses_its_parent_and_goes_leaf_first()
    {
        var viommu = NewViommu();
        Assert.Equal(Errno.EBUSY, _context.Destroy(_parent));
        _context.AllocHwpt(_device, viommu.Id, 0, NestedData(), out var nested).ThrowIfError("nested");
        Assert.Equal(Errno.EBUSY, _context.Destroy(viommu.Id));
        Assert.Equal(Errno.Ok, _context.Destroy(nested));
        Assert.Equal(Errno.Ok, _context.Destroy(viommu.Id));
        Assert.Equal(Errno.Ok, _context.Destroy(_parent));
    }

    [Fact]
    public void Viommu_checks_come_in_the_kernels_order()
    {
        _context.AllocHwpt(_device, _ioas, 0, null, out var plain).ThrowIfError("plain");
        Assert.Equal(Errno.EOPNOTSUPP, _context.AllocViommu(_device, new ObjectId(999), 0, null, out _));
        Assert.Equal(Errno.ENOENT, _context.AllocViommu(new DeviceId(999), _parent, MockViommuDriver.TypeSelftest, null, out _));
        Assert.Equal(Errno.EOPNOTSUPP, _context.AllocViommu(_device, new ObjectId(999), 0xdead, null, out _));
        Assert.Equal(Errno.ENOENT, _context.AllocViommu(_device, new ObjectId(999), MockViommuDriver.TypeSelftest, null, out _));
        Assert.Equal(Errno.EINVAL, _context.AllocViommu(_device, plain, MockViommuDriver.TypeSelftest, null, out _));
    }

    [Fact]
    public void Selftest_data_is_echoed_with_a_mmap_region_holding_it()
    {
        var bytes = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, 0xbeef);
        var data = new ManagedDriverData(MockViommuDriver.TypeSelftest, bytes);
        _context.AllocViommu(_device, _parent, MockViommuDriver.TypeSelftest, data, out var viommu).ThrowIfError("viommu");
        Assert.Equal(0xbeefu, BinaryPrimitives.ReadUInt32LittleEndian(data.Bytes[4..]));
        var offset = BinaryPrimitives.ReadUInt64LittleEndian(data.Bytes[8..]);
        var length = BinaryPrimitives.ReadUInt64LittleEndian(data.Bytes[16..]);
        Assert.Equal(Errno.Ok, _context.FindViommuMmap(offset, length, out var region));
        Assert.Equal(0xbeefu, BinaryPrimitives.ReadUInt32LittleEndian(region!.Contents));
        Assert.Equal(Errno.ENXIO, _context.FindViommuMmap(offset + CpuPage.Size, length, out _));
        Assert.Equal(Errno.ENXIO, _context.FindViommuMmap(offset, length / 2, out _));
        Assert.Same(region, viommu!.Instance.Mmap);
        // Shorter than in_data + out_data is EINVAL.
        Assert.Equal(Errno.EINVAL, _context.AllocViommu(_device, _parent, MockViommuDriver.TypeSelftest,
            new ManagedDriverData(MockViommuDriver.TypeSelftest, new byte[7]), out _));
    }

    [Fact]
    public void A_mapped_region_keeps_its_viommu_in_use_until_unmapped()
    {
        var bytes = new byte[24];
        var data = new ManagedDriverData(MockViommuDriver.TypeSelftest, bytes);
        _context.AllocViommu(_device, _parent, MockViommuDriver.TypeSelftest, data, out var viommu).ThrowIfError("viommu");
        var offset = BinaryPrimitives.ReadUInt64LittleEndian(data.Bytes[8..]);
        Assert.Equal(Errno.ENXIO, _context.MapViommuRegion(offset, 2 * (ulong)MockViommuDriver.MmapLength, out _));
        Assert.Equal(Errno.Ok, _context.MapViommuRegion(offset, (ulong)MockViommuDriver.MmapLength, out var mapping));
        Assert.Equal(Errno.EBUSY, _context.Destroy(viommu!.Id));
        mapping!.Dispose();
        mapping.Dispose();
        Assert.Equal(Errno.Ok, _context.Destroy(viommu.Id));
    }

    [Fact]
    public void Vdevice_ids_are_unique_per_viommu_and_a_device_has_one()
    {
        var viommu = NewViommu();
        _context.AllocVdevice(viommu.Id, _device, 0x99, out var vdev).ThrowIfError("vdev");
        Assert.Equal(Errno.EEXIST, _context.AllocVdevice(viommu.Id, _device, 0x88, out _));
        Assert.Same(_selftest.Device, viommu.FindDevice(0x99));
        Assert.Equal(Errno.EBUSY, _context.Destroy(viommu.Id));
        Assert.Equal(Errno.Ok, _context.Destroy(vdev!.Id));
        Assert.Null(viommu.FindDevice(0x99));
        Assert.Equal(Errno.Ok, _context.AllocVdevice(viommu.Id, _device, 0x88, out _));
        Assert.Equal(Errno.ENOENT, _context.AllocVdevice(new ObjectId(999), _device, 1, out _));
    }

    [Fact]
    public void A_nested_hwpt_of_a_viommu_takes_a_device_only_through_its_vdevice()
    {
        var viommu = NewViommu();
        _context.AllocHwpt(_device, viommu.Id, 0, NestedData(), out var nested).ThrowIfError("nested");
        Assert.Equal(Errno.ENOENT, _context.ReplaceMockDevice(_selftest.Id, nested, out _));
        _context.AllocVdevice(viommu.Id, _device, 0x99, out _).ThrowIfError("vdev");
        Assert.Equal(Errno.Ok, _context.ReplaceMockDevice(_selftest.Id, nested, out _));
        Assert.Equal(Errno.EOPNOTSUPP, _context.AllocHwpt(_device, viommu.Id, (HwptAllocFlags)(1u << 31), NestedData(), out _));
    }

    [Fact]
    public void Destroying_the_device_leaves_the_vdevice_id_dead_and_never_reused()
    {
        var viommu = NewViommu();
        _context.AllocVdevice(viommu.Id, _device, 0x99, out var vdev).ThrowIfError("vdev");
        var deadId = vdev!.Id;
        Assert.Equal(Errno.Ok, _context.Destroy(_selftest.Id));
        Assert.Equal(Errno.ENOENT, _context.Destroy(deadId));
        Assert.Null(viommu.FindDevice(0x99));
        // The vDEVICE let go of the vIOMMU, and its ID is not handed out again.
        _context.CreateIoas(out var next).ThrowIfError("ioas");
        Assert.NotEqual(deadId.Value, next.Value);
    }

    [Fact]
    public void Invalidation_on_a_viommu_reaches_the_device_named_by_virtual_id()
    {
        var viommu = NewViommu();
        _context.AllocVdevice(viommu.Id, _device, 0x99, out _).ThrowIfError("vdev");
        var request = new byte[12];
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(4), 0x99);
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(8), 2);
        var rc = _context.InvalidateHwpt(viommu.Id, new ManagedDriverArray(MockViommuDriver.InvalidateDataSelftest, [request]), out var handled);
        Assert.Equal(Errno.Ok, rc);
        Assert.Equal(1u, handled);
        Assert.Equal(Errno.Ok, _context.CheckMockDeviceCache(_device, 2, 0));
        Assert.Equal(Errno.Ok, _context.CheckMockDeviceCache(_device, 1, MockDeviceState.CacheDefault));
        // An unknown virtual ID is EINVAL, and nothing was handled.
        BinaryPrimitives.WriteUInt32LittleEndian(request.AsSpan(4), 0x9);
        rc = _context.InvalidateHwpt(viommu.Id, new ManagedDriverArray(MockViommuDriver.InvalidateDataSelftest, [request]), out handled);
        Assert.Equal(Errno.EINVAL, rc);
        Assert.Equal(0u, handled);
    }

    [Fact]
    public void A_hw_queue_locks_its_pages_and_queues_go_in_order()
    {
        var viommu = NewViommu();
        var iova = 0UL;
        _context.Map(_ioas, Buffer, CpuPage.Size, IoProt.Read | IoProt.Write, IovaPlacement.Automatic, ref iova).ThrowIfError("map");
        const uint type = MockViommuDriver.HwQueueTypeSelftest;
        Assert.Equal(Errno.EOPNOTSUPP, _context.AllocHwQueue(viommu.Id, 0, 0, iova, CpuPage.Size, out _));
        Assert.Equal(Errno.EINVAL, _context.AllocHwQueue(viommu.Id, type, 0, iova, 0, out _));
        Assert.Equal(Errno.EOVERFLOW, _context.AllocHwQueue(viommu.Id, type, 0, ulong.MaxValue, CpuPage.Size, out _));
        Assert.Equal(Errno.ENOENT, _context.AllocHwQueue(viommu.Id, type, 0, iova + CpuPage.Size, CpuPage.Size, out _));
        Assert.Equal(Errno.EIO, _context.AllocHwQueue(viommu.Id, type, 1, iova, CpuPage.Size, out _));
        Assert.Equal(Errno.EINVAL, _context.AllocHwQueue(viommu.Id, type, MockViommuDriver.HwQueueMax, iova, CpuPage.Size, out _));
        _context.AllocHwQueue(viommu.Id, type, 0, iova, CpuPage.Size, out var first).ThrowIfError("q0");
        Assert.Equal(Errno.EEXIST, _context.AllocHwQueue(viommu.Id, type, 0, iova, CpuPage.Size, out _));
        Assert.Equal(Errno.EBUSY, _context.Unmap(_ioas, iova, CpuPage.Size, out _));
        _context.AllocHwQueue(viommu.Id, type, 1, iova + CpuPage.Size / 2, CpuPage.Size / 2, out var second).ThrowIfError("q1");
        Assert.Equal(Errno.EBUSY, _context.Destroy(first!.Id));
        Assert.Equal(Errno.EBUSY, _context.Destroy(viommu.Id));
        Assert.Equal(Errno.Ok, _context.Destroy(second!.Id));
        Assert.Equal(Errno.Ok, _context.Destroy(first.Id));
        Assert.Equal(Errno.Ok, _context.Unmap(_ioas, iova, CpuPage.Size, out _));
    }
}
