using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Native.Fork;

namespace IommuFd.Native.Tests;

/// <summary>This process's engine without a shim: this process's memory, simulated object fds.</summary>
public sealed unsafe class LocalEngineTests
{
    private const ulong IommuDestroy = 0x3b80;

    private static LocalEngine NewEngine(int epoch = 0) => new(null, epoch, null);

    /// <summary>IOMMU_DESTROY of an unknown ID through the engine: ENOENT means it reached the context.</summary>
    private static int Destroy(IEngineRoute route, long handle, uint id = 12345)
    {
        var cmd = (uint*)NativeMemory.Alloc(8);
        try
        {
            cmd[0] = 8;
            cmd[1] = id;
            return route.Ioctl(handle, IommuDestroy, (ulong)cmd);
        }
        finally
        {
            NativeMemory.Free(cmd);
        }
    }

    [Fact]
    public void Open_issues_handles_of_its_epoch_that_reach_their_context()
    {
        var engine = NewEngine(epoch: 2);
        var handle = engine.Open();
        Assert.True(handle > 0);
        Assert.Equal(2, ContextTable.EpochOf(handle));
        Assert.Equal(-(int)Errno.ENOENT, Destroy(engine, handle));
    }

    [Fact]
    public void Unknown_and_closed_handles_are_EBADF()
    {
        var engine = NewEngine();
        var handle = engine.Open();
        Assert.Equal(-(int)Errno.EBADF, Destroy(engine, handle + 1));
        engine.Close(handle);
        Assert.Equal(-(int)Errno.EBADF, Destroy(engine, handle));
        engine.Close(handle); // twice: nothing happens
    }

    [Fact]
    public void Mmap_reaches_the_context_and_unknown_handles_are_EBADF()
    {
        var engine = NewEngine(epoch: 1);
        var handle = engine.Open();
        var page = NativeMemory.Alloc(4096);
        try
        {
            // Nothing is offered at any offset of a fresh context: the context's ENXIO.
            Assert.Equal(-(int)Errno.ENXIO, engine.Mmap(handle, 0, 4096, (ulong)page));
            Assert.Equal(-(int)Errno.EBADF, engine.Mmap(handle + 1, 0, 4096, (ulong)page));
            engine.Munmap(0x1234); // an unknown mapping: nothing happens
        }
        finally
        {
            NativeMemory.Free(page);
        }
    }

    [Fact]
    public void Object_fds_without_a_shim_are_EBADF()
    {
        var engine = NewEngine();
        Assert.Equal(-(int)Errno.EBADF, engine.ObjectRead(1, 0, 8));
        Assert.Equal(-(int)Errno.EBADF, engine.ObjectWrite(1, 0, 8));
        engine.ReleaseObject(1);
    }

    [Fact]
    public void A_prepared_fork_holds_new_calls_until_the_parent_resumes()
    {
        var engine = NewEngine();
        var handle = engine.Open();
        engine.PrepareFork();
        var result = 0;
        var call = new Thread(() => result = Destroy(engine, handle)) { IsBackground = true };
        call.Start();
        Assert.False(call.Join(200));
        engine.AfterForkInParent();
        Assert.True(call.Join(TimeSpan.FromSeconds(30)));
        Assert.Equal(-(int)Errno.ENOENT, result);
    }

    [Fact]
    public void Its_children_route_inherited_handles_away_from_a_new_engine()
    {
        var engine = NewEngine(epoch: 1);
        var handle = engine.Open();
        var child = engine.ForChild();
        Assert.IsType<ChildRoute>(child);
        Assert.Same(child, engine.ForChild());
        child.Close(handle); // forgotten in the child: the parent's context stays open
        Assert.Equal(-(int)Errno.ENOENT, Destroy(engine, handle));
    }

    [Fact]
    public void Exceptions_and_errnos_share_one_convention()
    {
        Assert.Equal(-9, NativeResult.Of(Errno.EBADF));
        Assert.Equal(-(int)Errno.ENOMEM, NativeResult.FromException(new OutOfMemoryException()));
        Assert.Equal(-(int)Errno.EIO, NativeResult.FromException(new InvalidOperationException()));
    }

    [Fact]
    public void Pins_are_known_for_this_process_and_unknown_for_others()
    {
        var engine = NewEngine();
        PinCounts counts;
        counts.PinnedPages = 99;
        Assert.Equal(0, engine.ProcessPins(Environment.ProcessId, &counts));
        Assert.Equal((0UL, 0UL), (counts.PinnedPages, counts.LockedPages));
        Assert.Equal(-(int)Errno.ENOENT, engine.ProcessPins(0x7ff0_0002, &counts));
        // A process served through a fork link is known from then on.
        engine.HostForChild(0x7ff0_0002);
        Assert.Equal(0, engine.ProcessPins(0x7ff0_0002, &counts));
    }
}
