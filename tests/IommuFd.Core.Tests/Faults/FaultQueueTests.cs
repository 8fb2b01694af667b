using IommuFd.Core;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Faults;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Faults;

/// <summary>
/// Fault queues through the managed API: page requests of a device attached to an HWPT that names
/// a queue wait there, are handed out whole with a cookie, are answered once, and are never left
/// unanswered when the device leaves or the queue goes.
/// </summary>
public sealed class FaultQueueTests : IDisposable
{
    private static readonly PageRequest Request = new(PageRequestFlags.LastPage, 0, 1, PageRequestAccess.Read, 0x4000);

    private readonly IommufdContext _context = new(new IommuHost(new SimulatedUserMemory(), ulong.MaxValue));
    private readonly FaultQueue _queue;
    private readonly DeviceId _device;
    private readonly HwptId _hwpt;
    private readonly List<bool> _readable = [];

    public FaultQueueTests()
    {
        _context.CreateIoas(out var ioas).ThrowIfError("ioas");
        _context.CreateFaultQueue(out _queue).ThrowIfError("queue");
        _queue.ReadableChanged = _readable.Add;
        var device = MockIommuDriver.Instance.CreateDevice(MockDeviceFlags.None);
        _context.BindDevice(device, out _device).ThrowIfError("bind");
        _context.AllocHwpt(_device, ioas, HwptAllocFlags.FaultIdValid, null, out _hwpt, _queue.TypedId).ThrowIfError("hwpt");
        _context.AttachDevice(_device, _hwpt, out _).ThrowIfError("attach");
    }

    public void Dispose() => _context.Dispose();

    private List<FaultGroup> Drain(int room = 100)
    {
        var groups = new List<FaultGroup>();
        _queue.Deliver(room, g =>
        {
            groups.Add(g);
            return true;
        });
        return groups;
    }

    [Fact]
    public void Groups_are_delivered_in_order_whole_and_with_distinct_nonzero_cookies()
    {
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request]));
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request, Request with { GroupId = 2 }]));
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request with { GroupId = 3 }]));
        // Room for two requests: the first group, not the two-request second one.
        var first = Drain(room: 2);
        Assert.Single(first);
        var rest = Drain();
        Assert.Equal(2, rest.Count);
        Assert.Equal(2, rest[0].Requests.Count);
        var cookies = first.Concat(rest).Select(g => g.Cookie).ToList();
        Assert.DoesNotContain(0u, cookies);
        Assert.Equal(3, cookies.Distinct().Count());
        Assert.Equal(3, _queue.AwaitingResponseCount);
        Assert.Equal([true, false], _readable);
    }

    [Fact]
    public void A_group_that_could_not_be_passed_on_goes_back_to_the_front()
    {
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request]));
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request with { GroupId = 9 }]));
        Assert.Equal(0, _queue.Deliver(10, _ => false));
        Assert.Equal(2, _queue.WaitingCount);
        Assert.Equal(0, _queue.AwaitingResponseCount);
        var groups = Drain();
        Assert.Equal(1u, groups[0].Requests[0].GroupId);
        Assert.Equal(9u, groups[1].Requests[0].GroupId);
    }

    [Fact]
    public void Each_group_is_answered_exactly_once()
    {
        var answers = new List<PageResponseCode>();
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request], answers.Add));
        var group = Assert.Single(Drain());
        Assert.Equal(Errno.EINVAL, _queue.Respond(group.Cookie, (PageResponseCode)7));
        Assert.Equal(Errno.Ok, _queue.Respond(group.Cookie, PageResponseCode.Success));
        Assert.Equal(Errno.EINVAL, _queue.Respond(group.Cookie, PageResponseCode.Success));
        Assert.Equal([PageResponseCode.Success], answers);
    }

    [Fact]
    public void Detaching_answers_waiting_and_read_groups_Invalid()
    {
        var answers = new List<PageResponseCode>();
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request], answers.Add));
        Drain();
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request], answers.Add));
        Assert.Equal(Errno.Ok, _context.DetachDevice(_device));
        Assert.Equal([PageResponseCode.Invalid, PageResponseCode.Invalid], answers);
        Assert.Equal(0, _queue.WaitingCount);
        Assert.Equal(0, _queue.AwaitingResponseCount);
        Assert.False(_readable[^1]);
        // Not attached any more: answered at once.
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request], answers.Add));
        Assert.Equal(3, answers.Count);
        Assert.Equal(Errno.ENOENT, _context.ReportPageRequests(new DeviceId(999), [Request]));
        Assert.Equal(Errno.EINVAL, _context.ReportPageRequests(_device, []));
    }

    [Fact]
    public void The_queue_outlives_its_hwpt_and_answers_what_is_left_when_destroyed()
    {
        var answers = new List<PageResponseCode>();
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [Request], answers.Add));
        Assert.Equal(Errno.EBUSY, _context.Destroy(_queue.TypedId));
        // Nothing is lost while the device moves away and the HWPT goes.
        Drain();
        Assert.Equal(Errno.Ok, _context.DetachDevice(_device));
        Assert.Equal(Errno.Ok, _context.Destroy(_hwpt));
        Assert.Equal([PageResponseCode.Invalid], answers);
        Assert.Equal(Errno.Ok, _context.Destroy(_queue.TypedId));
    }
}
