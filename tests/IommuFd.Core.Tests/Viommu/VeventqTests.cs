using System.Buffers.Binary;
using IommuFd.Core;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core.Tests.Viommu;

/// <summary>
/// vEVENTQs through the managed API: one per vIOMMU and type, events only for a device attached
/// through its vDEVICE, whole records with sequence numbers, a lost-events header after an
/// overflow, readiness as POLLIN would report it, and no partial record for a short buffer.
/// </summary>
public sealed class VeventqTests : IDisposable
{
    private const ulong Buffer = 0x20_0000;
    private const int EventSize = Veventq.HeaderSize + 4;
    private readonly SimulatedUserMemory _memory = new();
    private readonly SimulatedObjectFiles _files = new();
    private readonly IommufdContext _context;
    private readonly SelftestDevice _selftest;
    private readonly DeviceId _device;
    private readonly VirtualIommu.Viommu _viommu;
    private readonly HwptId _nested;

    public VeventqTests()
    {
        _memory.Map(Buffer, CpuPage.Size);
        _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
        _context.CreateIoas(out var ioas).ThrowIfError("ioas");
        _context.CreateMockDevice(ioas, MockDeviceFlags.None, out _selftest, out _).ThrowIfError("mock");
        _device = _selftest.Device.TypedId;
        _context.AllocHwpt(_device, ioas, HwptAllocFlags.NestParent, null, out var parent).ThrowIfError("parent");
        _context.AllocViommu(_device, parent, MockViommuDriver.TypeSelftest, null, out var viommu).ThrowIfError("viommu");
        _viommu = viommu!;
        _context.AllocHwpt(_device, _viommu.Id, 0, new ManagedDriverData(MockIommuDriver.HwptDataSelftest, new byte[8]), out _nested).ThrowIfError("nested");
    }

    public void Dispose() => _context.Dispose();

    private Veventq NewQueue(uint depth, out int fd)
    {
        using var pending = _context.BeginAllocVeventq(_viommu.Id, MockViommuDriver.VeventqTypeSelftest, depth, _files, q => q, out fd);
        Assert.True(pending.Reserved, pending.Status.ToString());
        return pending.Publish();
    }

    private void AttachThroughVdevice(ulong virtualId)
    {
        _context.AllocVdevice(_viommu.Id, _device, virtualId, out _).ThrowIfError("vdev");
        _context.ReplaceMockDevice(_selftest.Id, _nested, out _).ThrowIfError("replace");
    }

    private List<(uint Flags, uint Sequence, uint VirtualId)> Read(Veventq queue, ulong length, out ulong done)
    {
        Assert.Equal(Errno.Ok, queue.Read(_memory, Buffer, length, out done));
        var bytes = new byte[done];
        _memory.Read(Buffer, bytes).ThrowIfError("read back");
        var records = new List<(uint, uint, uint)>();
        for (var at = 0; at < bytes.Length;)
        {
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
            var sequence = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 4));
            at += Veventq.HeaderSize;
            var virtualId = 0u;
            if ((flags & Veventq.FlagLostEvents) == 0)
            {
                virtualId = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at));
                at += 4;
            }
            records.Add((flags, sequence, virtualId));
        }
        return records;
    }

    [Fact]
    public void One_queue_per_type_and_the_checks_before_the_lookup()
    {
        NewQueue(2, out _);
        using (var again = _context.BeginAllocVeventq(_viommu.Id, MockViommuDriver.VeventqTypeSelftest, 2, _files, q => q, out _))
            Assert.Equal(Errno.EEXIST, again.Status);
        using (var zeroType = _context.BeginAllocVeventq(new ObjectId(999), 0, 2, _files, q => q, out _))
            Assert.Equal(Errno.EOPNOTSUPP, zeroType.Status);
        using (var zeroDepth = _context.BeginAllocVeventq(new ObjectId(999), 1, 0, _files, q => q, out _))
            Assert.Equal(Errno.EINVAL, zeroDepth.Status);
        using (var unknown = _context.BeginAllocVeventq(new ObjectId(999), 1, 2, _files, q => q, out _))
            Assert.Equal(Errno.ENOENT, unknown.Status);
    }

    [Fact]
    public void Events_need_an_attachment_through_a_vdevice_and_a_queue()
    {
        Assert.Equal(Errno.ENOENT, _context.TriggerMockVevent(_device));
        AttachThroughVdevice(0x99);
        Assert.Equal(Errno.EOPNOTSUPP, _context.TriggerMockVevent(_device));
        var queue = NewQueue(2, out _);
        Assert.Equal(Errno.Ok, _context.TriggerMockVevent(_device));
        var records = Read(queue, 10 * EventSize, out _);
        Assert.Equal([(0u, 0u, 0x99u)], records);
    }

    [Fact]
    public void Overflow_ends_the_queue_with_one_lost_events_header_and_sequence_numbers_go_on()
    {
        AttachThroughVdevice(0x88);
        var queue = NewQueue(2, out _);
        for (var i = 0; i < 4; i++)
            _context.TriggerMockVevent(_device).ThrowIfError("trigger");
        var records = Read(queue, 10 * EventSize, out var done);
        Assert.Equal([(0u, 0u, 0x88u), (0u, 1u, 0x88u), (Veventq.FlagLostEvents, 3u, 0u)], records);
        Assert.Equal((ulong)(2 * EventSize + Veventq.HeaderSize), done);
        _context.TriggerMockVevent(_device).ThrowIfError("trigger");
        Assert.Equal([(0u, 4u, 0x88u)], Read(queue, 10 * EventSize, out _));
    }

    [Fact]
    public void A_buffer_too_small_for_the_next_record_copies_nothing_of_it()
    {
        AttachThroughVdevice(0x77);
        var queue = NewQueue(4, out _);
        _context.TriggerMockVevent(_device).ThrowIfError("trigger");
        _context.TriggerMockVevent(_device).ThrowIfError("trigger");
        _memory.Write(Buffer, new byte[64]).ThrowIfError("clear");
        Assert.Empty(Read(queue, EventSize - 1, out var done));
        Assert.Equal(0UL, done);
        Assert.Single(Read(queue, EventSize + EventSize / 2, out done));
        Assert.Equal((ulong)EventSize, done);
        Assert.Equal(1, queue.Count);
    }

    [Fact]
    public void Readiness_follows_the_queue_and_the_fd_keeps_it_alive()
    {
        AttachThroughVdevice(0x66);
        var queue = NewQueue(2, out var fd);
        Assert.False(_files.IsReadable(fd));
        _context.TriggerMockVevent(_device).ThrowIfError("trigger");
        Assert.True(_files.IsReadable(fd));
        Read(queue, 10 * EventSize, out _);
        Assert.False(_files.IsReadable(fd));
        Assert.Equal(Errno.EBUSY, _context.Destroy(queue.Id));
        Assert.Equal(Errno.EBUSY, _context.Destroy(_viommu.Id));
        _files.Close(fd).ThrowIfError("close");
        Assert.Equal(Errno.Ok, _context.Destroy(queue.Id));
        Assert.Null(_viommu.FindVeventq(MockViommuDriver.VeventqTypeSelftest));
    }
}
