using System.Runtime.InteropServices;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Faults;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_FAULT_QUEUE_ALLOC, HWPTs that deliver page requests to a queue, and the queue's fd:
/// whole iommu_hwpt_pgfault records out, iommu_hwpt_page_response answers in (fault.c facts).
/// </summary>
public sealed class FaultQueueTests : IDisposable
{
    private const uint OpTriggerIopf = 15;
    private const int RecordSize = 40;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _dev;
    private readonly uint _parent;
    private readonly ulong _data;

    public FaultQueueTests()
    {
        _ioas = _s.AllocIoas();
        _dev = _s.AddMock(_ioas);
        _parent = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptNestParent);
        _data = _s.Heap.Alloc(64);
        _s.Heap.Write(_data, 0xbadbeefu);
    }

    public void Dispose() => _s.Dispose();

    private Errno AllocFault(out uint id, out int fd, uint flags = 0)
    {
        var cmd = new IommuFaultAlloc { Size = 16, Flags = flags };
        var rc = _s.Ioctl(ref cmd);
        (id, fd) = (cmd.OutFaultId, (int)cmd.OutFaultFd);
        return rc;
    }

    private Errno IopfHwpt(uint faultId, out uint id)
    {
        var cmd = DevCmd.HwptAlloc(_dev.Idev, _parent, Mock.HwptFaultIdValid, Mock.HwptDataSelftest, 8, _data) with { FaultId = faultId };
        var rc = _s.HwptAlloc(cmd, out var after);
        id = after.OutHwptId;
        return rc;
    }

    private Errno Trigger(uint devId, uint pasid = 1, uint group = 2, ulong addr = 0xdeadbeaf)
    {
        var cmd = DevCmd.Test(OpTriggerIopf);
        cmd.TriggerIopf = new TestTriggerIopf { DevId = devId, Pasid = pasid, GroupId = group, Perm = 3, Addr = addr };
        return _s.Ioctl(ref cmd);
    }

    private IObjectFileOperations File(int fd) => Assert.IsAssignableFrom<IObjectFileOperations>(_s.Host.Files.Lookup(fd));

    private Errno Respond(int fd, uint cookie, uint code, out ulong done)
    {
        var buffer = _s.Heap.Alloc(8);
        _s.Heap.Write(buffer, cookie);
        _s.Heap.Write(buffer + 4, code);
        return File(fd).Write(_s.Memory, buffer, 8, out done);
    }

    [Fact]
    public void Allocation_refuses_flags_and_the_fd_holds_the_queue()
    {
        Assert.Equal(Errno.EOPNOTSUPP, AllocFault(out _, out _, flags: 1));
        Assert.Equal(Errno.Ok, AllocFault(out var id, out var fd));
        Assert.NotEqual(0u, id);
        Assert.Equal(Errno.EBUSY, _s.Destroy(id));
        Assert.Equal(Errno.Ok, _s.Host.Files.Close(fd));
        Assert.Equal(Errno.Ok, _s.Destroy(id));
    }

    [Fact]
    public void An_hwpt_naming_a_queue_holds_it_and_unknown_queues_are_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, IopfHwpt(uint.MaxValue, out _));
        Assert.Equal(Errno.ENOENT, IopfHwpt(_ioas, out _)); // not a fault queue
        Assert.Equal(Errno.Ok, AllocFault(out var faultId, out var fd));
        Assert.Equal(Errno.Ok, IopfHwpt(faultId, out var hwpt));
        Assert.Equal(Errno.Ok, _s.Host.Files.Close(fd));
        Assert.Equal(Errno.EBUSY, _s.Destroy(faultId));
        Assert.Equal(Errno.Ok, _s.Destroy(hwpt));
        Assert.Equal(Errno.Ok, _s.Destroy(faultId));
    }

    [Fact]
    public void A_page_request_is_read_whole_and_answered_by_cookie()
    {
        Assert.Equal(Errno.Ok, AllocFault(out var faultId, out var fd));
        Assert.Equal(Errno.Ok, IopfHwpt(faultId, out var hwpt));
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, hwpt, out _));
        Assert.Equal(Errno.ENOENT, Trigger(999));
        var files = Assert.IsType<SimulatedObjectFiles>(_s.Host.Files);
        Assert.False(files.IsReadable(fd));
        Assert.Equal(Errno.Ok, Trigger(_dev.Idev, addr: 0x1234_5000));
        // POLLIN while a record waits, as the kernel's fault fd reports.
        Assert.True(files.IsReadable(fd));

        var buffer = _s.Heap.Alloc(2 * RecordSize);
        var file = File(fd);
        Assert.Equal(Errno.ESPIPE, file.Read(_s.Memory, buffer, RecordSize + 1, out _));
        Assert.Equal(Errno.EFAULT, file.Read(_s.Memory, UserHeap.UnmappedPointer, RecordSize, out _));
        Assert.Equal(Errno.Ok, file.Read(_s.Memory, buffer, 2 * RecordSize, out var done));
        Assert.Equal((ulong)RecordSize, done);
        Assert.False(files.IsReadable(fd));
        var record = new byte[RecordSize];
        Assert.Equal(Errno.Ok, _s.Memory.Read(buffer, record));
        var fault = MemoryMarshal.Read<IommuHwptPgfault>(record);
        Assert.Equal(3u, fault.Flags); // PASID_VALID | LAST_PAGE
        Assert.Equal(_dev.Idev, fault.DevId);
        Assert.Equal(1u, fault.Pasid);
        Assert.Equal(2u, fault.GroupId);
        Assert.Equal(3u, fault.Perm);
        Assert.Equal(0x1234_5000UL, fault.Addr);
        Assert.NotEqual(0u, fault.Cookie);
        // Nothing more to read.
        Assert.Equal(Errno.Ok, file.Read(_s.Memory, buffer, RecordSize, out done));
        Assert.Equal(0UL, done);

        Assert.Equal(Errno.EINVAL, Respond(fd, fault.Cookie, 2, out _));
        Assert.Equal(Errno.EINVAL, Respond(fd, fault.Cookie + 1, 0, out _));
        Assert.Equal(Errno.Ok, Respond(fd, fault.Cookie, 0, out done));
        Assert.Equal(8UL, done);
        // Answered once only.
        Assert.Equal(Errno.EINVAL, Respond(fd, fault.Cookie, 0, out _));
        Assert.Equal(Errno.ESPIPE, File(fd).Write(_s.Memory, buffer, 7, out _));
    }

    [Fact]
    public void Leaving_the_hwpt_answers_its_requests_Invalid()
    {
        Assert.Equal(Errno.Ok, AllocFault(out var faultId, out var fd));
        Assert.Equal(Errno.Ok, IopfHwpt(faultId, out var hwpt));
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, hwpt, out _));
        var answers = new List<PageResponseCode>();
        var request = new PageRequest(PageRequestFlags.LastPage, 0, 7, PageRequestAccess.Read, 0x1000);
        Assert.Equal(Errno.Ok, _s.Context.ReportPageRequests(new DeviceId(_dev.Idev), [request], answers.Add));
        Assert.Equal(Errno.Ok, _s.Context.ReportPageRequests(new DeviceId(_dev.Idev), [request, request], answers.Add));
        // A group is read whole or not at all: the second does not fit beside the first.
        var buffer = _s.Heap.Alloc(2 * RecordSize);
        Assert.Equal(Errno.Ok, File(fd).Read(_s.Memory, buffer, 2 * RecordSize, out var done));
        Assert.Equal((ulong)RecordSize, done);
        Assert.Empty(answers);
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, _parent, out _));
        Assert.Equal([PageResponseCode.Invalid, PageResponseCode.Invalid], answers);
        // Without a queue on the attachment, a request is answered Invalid at once.
        Assert.Equal(Errno.Ok, _s.Context.ReportPageRequests(new DeviceId(_dev.Idev), [request], answers.Add));
        Assert.Equal(3, answers.Count);
    }
}
