using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Faults;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Objects;

/// <summary>
/// Each kind's creation taken back before publishing (what happens when the new IDs cannot be
/// reported): its own abort step must release everything the creation acquired.
/// </summary>
public sealed class PendingCreationTests : IDisposable
{
    private readonly IommufdContext _context = new(new IommuHost(new SimulatedUserMemory(), ulong.MaxValue));
    private readonly IoasId _ioas;
    private readonly DeviceId _device;

    public PendingCreationTests()
    {
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _context.BindDevice(MockIommuDriver.Instance.CreateDevice(MockDeviceFlags.None), out _device).ThrowIfError("bind");
    }

    public void Dispose() => _context.Dispose();

    [Fact]
    public void AnAbortedPagingHwptLeavesItsIoasAndFaultQueueFree()
    {
        _context.CreateFaultQueue(out var queue).ThrowIfError("queue");
        var before = _context.Objects.Count;
        using (var hwpt = _context.BeginAllocHwpt(_device, _ioas, HwptAllocFlags.FaultIdValid, null, queue.TypedId))
        {
            Assert.True(hwpt.Reserved);
            Assert.Equal(1, _context.Objects.Peek<Ioas>(_ioas).PageTable.DomainCount);
            Assert.Equal(Errno.EBUSY, _context.Destroy(queue.Id));
        }
        Assert.Equal(before, _context.Objects.Count);
        Assert.Equal(0, _context.Objects.Peek<Ioas>(_ioas).PageTable.DomainCount);
        Assert.Equal(Errno.Ok, _context.Destroy(queue.Id));
        Assert.Equal(Errno.Ok, _context.Destroy(_ioas));
    }

    [Fact]
    public void AnAbortedNestedHwptReleasesItsParent()
    {
        _context.AllocHwpt(_device, _ioas, HwptAllocFlags.NestParent, null, out var parent).ThrowIfError("parent");
        using (var nested = _context.BeginAllocHwpt(_device, parent, HwptAllocFlags.None, new MockNestedData()))
        {
            Assert.True(nested.Reserved, nested.Status.ToString());
            Assert.Equal(Errno.EBUSY, _context.Destroy(parent));
        }
        Assert.Equal(Errno.Ok, _context.Destroy(parent));
    }

    [Fact]
    public void AnAbortedFaultQueueClosesTheFdItOpened()
    {
        var files = new SimulatedObjectFiles();
        var before = _context.Objects.Count;
        using (var fault = _context.BeginCreateFaultQueue(files, queue => queue, out var fd))
        {
            Assert.True(fault.Reserved);
            Assert.Same(fault.Value, files.Lookup(fd));
        }
        Assert.Equal(0, files.OpenCount);
        Assert.Equal(before, _context.Objects.Count);
    }

    [Fact]
    public void APublishedFaultQueueIsBusyUntilItsFdCloses()
    {
        var files = new SimulatedObjectFiles();
        int fd;
        FaultQueue queue;
        using (var fault = _context.BeginCreateFaultQueue(files, q => q, out fd))
            queue = fault.Publish();
        Assert.Equal(Errno.EBUSY, _context.Destroy(queue.Id));
        files.Close(fd).ThrowIfError("close");
        Assert.Equal(Errno.Ok, _context.Destroy(queue.Id));
    }

    [Fact]
    public void AnAbortedMockDeviceIsUnboundAndItsAutomaticHwptGone()
    {
        var before = _context.Objects.Count;
        using (var mock = _context.BeginCreateMockDevice(_ioas, MockDeviceFlags.None, out var hwpt))
        {
            Assert.True(mock.Reserved);
            Assert.Equal(before + 3, _context.Objects.Count); // the handle, its device and the automatic HWPT
        }
        Assert.Equal(before, _context.Objects.Count);
        Assert.Equal(Errno.Ok, _context.Destroy(_ioas));
    }

    [Fact]
    public void AFailedCreationHasNothingPending()
    {
        using var mock = _context.BeginCreateMockDevice(new ObjectId(999), MockDeviceFlags.None, out _);
        Assert.False(mock.Reserved);
        Assert.Equal(Errno.ENOENT, mock.Status);
        Assert.Throws<InvalidOperationException>(() => mock.Value);
    }

    /// <summary>struct iommu_hwpt_selftest with iotlb 0.</summary>
    private sealed class MockNestedData : IDriverData
    {
        public uint Type => MockIommuDriver.HwptDataSelftest;

        public uint Length => 4;

        public Errno CopyTo(Span<byte> destination)
        {
            destination.Clear();
            return Errno.Ok;
        }
    }
}
