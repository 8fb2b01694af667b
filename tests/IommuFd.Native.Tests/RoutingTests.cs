using IommuFd.Core;
using IommuFd.Native.Fork;
using IommuFd.Native.Tests.Infrastructure;

namespace IommuFd.Native.Tests;

public sealed unsafe class RoutingTests
{
    private const int ParentEpoch = 4;
    private const int ChildEpoch = ParentEpoch + 1;

    private static long Handle(int epoch, long low = 0x0100_0001) => ((long)epoch << 48) | low;

    private static ulong Cookie(int epoch, ulong low = 7) => ((ulong)epoch << 48) | low;

    /// <summary>A child route whose engine copy cannot load, so the child's engine starts "in place" as <paramref name="engine"/>.</summary>
    private static ChildRoute NewChildRoute(RecordingRoute engine, List<int> startedEpochs) =>
        new(ParentEpoch, new ForkLink(), new EngineCopy(null, null), epoch =>
        {
            lock (startedEpochs)
                startedEpochs.Add(epoch);
            return engine;
        });

    [Fact]
    public void The_router_keeps_its_route_until_a_fork_then_switches_once()
    {
        var child = new RecordingRoute();
        var parent = new RecordingRoute { Child = child };
        var forks = new FakeForkDetector();
        var router = new EpochRouter(forks, parent);
        Assert.Same(parent, router.Current);
        Assert.Same(parent, router.ForForkHandlers);
        forks.Fork();
        Assert.Null(router.ForForkHandlers); // a child that has not called yet: the parent's state
        Parallel.For(0, 8, _ => Assert.Same(child, router.Current));
        Assert.Equal(1, forks.Rearms);
        Assert.Same(child, router.ForForkHandlers);
    }

    [Fact]
    public void Each_export_reaches_the_route_of_the_epoch()
    {
        var child = new RecordingRoute();
        var parent = new RecordingRoute { Child = child };
        var forks = new FakeForkDetector();
        var router = new EpochRouter(forks, parent);
        Assert.Equal(RecordingRoute.IoctlResult, router.Current.Ioctl(0x11, 0x3b80, 0));
        forks.Fork();
        Assert.Equal(RecordingRoute.IoctlResult, router.Current.Ioctl(0x11, 0x3b80, 0));
        Assert.Equal(["ioctl 0x11 0x3b80"], parent.Calls);
        Assert.Equal(["ioctl 0x11 0x3b80"], child.Calls);
    }

    [Fact]
    public void A_child_starts_its_engine_once_for_its_own_handles()
    {
        var engine = new RecordingRoute();
        var started = new List<int>();
        var route = NewChildRoute(engine, started);
        Parallel.For(0, 8, _ => Assert.Equal(RecordingRoute.OpenedHandle, route.Open()));
        Assert.Equal(RecordingRoute.IoctlResult, route.Ioctl(Handle(ChildEpoch), 1, 0));
        Assert.Equal([ChildEpoch], started);
        Assert.Equal(9, engine.Calls.Count);
    }

    [Fact]
    public void Inherited_handles_without_a_link_answer_EIO_and_start_nothing()
    {
        var engine = new RecordingRoute();
        var started = new List<int>();
        var route = NewChildRoute(engine, started);
        Assert.Equal(RecordingRoute.Errno(Errno.EIO), route.Ioctl(Handle(ParentEpoch), 1, 0));
        Assert.Equal(RecordingRoute.Errno(Errno.EIO), route.Ioctl(Handle(ParentEpoch - 1), 1, 0));
        route.Close(Handle(ParentEpoch));
        Assert.Empty(started);
        Assert.Empty(engine.Calls);
    }

    [Fact]
    public void Garbage_handles_go_to_the_childs_engine_which_refuses_them()
    {
        var engine = new RecordingRoute();
        var route = NewChildRoute(engine, []);
        route.Ioctl(-1, 1, 0);
        Assert.Equal(["ioctl 0xffffffffffffffff 0x1"], engine.Calls);
    }

    [Fact]
    public void Inherited_object_fds_answer_EIO_and_their_release_is_ignored()
    {
        var engine = new RecordingRoute();
        var route = NewChildRoute(engine, []);
        route.Open();
        Assert.Equal(RecordingRoute.Errno(Errno.EIO), route.ObjectRead(Cookie(ParentEpoch), 0, 8));
        Assert.Equal(RecordingRoute.Errno(Errno.EIO), route.ObjectWrite(Cookie(ParentEpoch), 0, 8));
        route.ReleaseObject(Cookie(ParentEpoch));
        Assert.Equal(["open"], engine.Calls);
    }

    [Fact]
    public void The_childs_own_objects_reach_its_engine_once_started()
    {
        var engine = new RecordingRoute();
        var started = new List<int>();
        var route = NewChildRoute(engine, started);
        Assert.Equal(RecordingRoute.Errno(Errno.EBADF), route.ObjectRead(Cookie(ChildEpoch), 0, 8)); // nothing opened yet
        route.ReleaseObject(Cookie(ChildEpoch));
        route.Close(Handle(ChildEpoch));
        Assert.Empty(started);
        route.Open();
        Assert.Equal(RecordingRoute.TransferResult, route.ObjectRead(Cookie(ChildEpoch), 0, 8));
        Assert.Equal(RecordingRoute.TransferResult, route.ObjectWrite(Cookie(ChildEpoch), 0, 8));
        route.ReleaseObject(Cookie(ChildEpoch));
        route.Close(Handle(ChildEpoch));
        Assert.Equal(["open", "read 0x5000000000007", "write 0x5000000000007", "release 0x5000000000007", "close 0x5000001000001"], engine.Calls);
    }

    [Fact]
    public void A_grandchild_keeps_the_route_until_the_child_started_an_engine_in_place()
    {
        var grandchild = new RecordingRoute();
        var engine = new RecordingRoute { Child = grandchild };
        var route = NewChildRoute(engine, []);
        Assert.Same(route, route.ForChild());
        route.Open();
        Assert.Same(grandchild, route.ForChild());
    }

    [Fact]
    public void Fork_handlers_reach_an_engine_started_in_place_only()
    {
        var engine = new RecordingRoute();
        var route = NewChildRoute(engine, []);
        route.PrepareFork();
        route.AfterForkInParent();
        Assert.Equal(0, engine.Prepared);
        route.Open();
        route.PrepareFork();
        route.AfterForkInParent();
        Assert.Equal((1, 1), (engine.Prepared, engine.ResumedInParent));
    }

    [Fact]
    public void A_child_asks_for_pins_without_starting_an_engine_and_adds_its_own_once_started()
    {
        var engine = new RecordingRoute();
        var started = new List<int>();
        var route = NewChildRoute(engine, started);
        PinCounts counts;
        // No fork link (the parent had no context) and no engine of its own: nobody knows the process.
        Assert.Equal(-(int)Errno.ENOENT, route.ProcessPins(77, &counts));
        Assert.Empty(started);
        Assert.True(route.Open() > 0); // starts the child's engine
        Assert.Equal(0, route.ProcessPins(77, &counts));
        Assert.Equal(77UL, counts.PinnedPages); // the recording engine answers with the pid
        Assert.Contains("pins 77", engine.Calls);
    }
}
