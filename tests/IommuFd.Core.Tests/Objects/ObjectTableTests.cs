using IommuFd.Core.Tests.Infrastructure;
using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Objects;

public sealed class ObjectTableTests
{
    private sealed class Thing : IommufdObject
    {
        public int Destroyed;
        public int Aborted;

        public override ObjectKind Kind => ObjectKind.Selftest;

        protected internal override void OnDestroy() => Destroyed++;

        protected internal override void OnAbort() => Aborted++;
    }

    private static Thing Published(ObjectTable table)
    {
        var t = new Thing();
        table.Reserve(t).PublishNow(out _).ThrowIfError("reserve");
        return t;
    }

    [Fact]
    public void IdsStartAtOneAndTheLowestFreeIsReused()
    {
        var table = new ObjectTable();
        var things = Enumerable.Range(0, 4).Select(_ => Published(table)).ToList();
        Assert.Equal([1u, 2u, 3u, 4u], things.Select(t => t.Id.Value));
        Assert.Equal(Errno.Ok, table.Destroy(new ObjectId(3)));
        Assert.Equal(Errno.Ok, table.Destroy(new ObjectId(2)));
        Assert.Equal(2u, Published(table).Id.Value);
    }

    [Fact]
    public void APendingObjectIsInvisibleAndDisposingItAbortsWithItsOwnStep()
    {
        var table = new ObjectTable();
        var t = new Thing();
        ObjectId id;
        using (var pending = table.Reserve(t))
        {
            Assert.True(pending.Reserved);
            id = pending.Value.Id;
            using (var hold = table.Hold<Thing>(id))
                Assert.Equal(Errno.ENOENT, hold.Status);
            Assert.Equal(Errno.ENOENT, table.Destroy(id));
            Assert.Equal(1, table.Count);
        }
        Assert.Equal(0, table.Count);
        Assert.Equal((1, 0), (t.Aborted, t.Destroyed));
        Assert.Equal(id, Published(table).Id);
    }

    [Fact]
    public void APublishedObjectIsVisibleAndDisposingThePendingDoesNothingMore()
    {
        var table = new ObjectTable();
        var t = new Thing();
        using (var pending = table.Reserve(t))
        {
            Assert.Same(t, pending.Publish());
            Assert.Throws<InvalidOperationException>(() => pending.Publish());
        }
        Assert.Equal(0, t.Aborted);
        using (var hold = table.Hold<Thing>(t.Id))
            Assert.Same(t, hold.Value);
        Assert.Equal(Errno.Ok, table.Destroy(t.Id));
        Assert.Equal((0, 1), (t.Aborted, t.Destroyed));
    }

    [Fact]
    public void UsersMakeDestroyBusyAndHoldsDelayTeardown()
    {
        var table = new ObjectTable();
        var t = Published(table);
        table.AddUser(t);
        Assert.Equal(Errno.EBUSY, table.Destroy(t.Id));
        table.RemoveUser(t);
        using (var held = table.Hold<Thing>(t.Id))
        {
            Assert.True(held.Held);
            Assert.Equal(Errno.Ok, table.Destroy(t.Id));
            Assert.Equal(0, t.Destroyed);
            using var again = table.Hold<Thing>(t.Id);
            Assert.Equal(Errno.ENOENT, again.Status);
        }
        Assert.Equal(1, t.Destroyed);
    }

    [Fact]
    public void AFailedHoldHoldsNothingAndDisposesToNothing()
    {
        var table = new ObjectTable();
        var t = Published(table);
        var missing = table.Hold<Thing>(new ObjectId(77));
        Assert.False(missing.Held);
        Assert.Throws<InvalidOperationException>(() => missing.Value);
        missing.Dispose();
        Assert.Equal(Errno.Ok, table.Destroy(t.Id));
        Assert.Equal(1, t.Destroyed);
    }

    [Fact]
    public void TypedLookupOfAnotherKindIsEnoent()
    {
        using var context = new IommufdContext(new IommuHost(new SimulatedUserMemory(), ulong.MaxValue));
        context.CreateIoas(out var ioas).ThrowIfError("ioas");
        using (var wrong = context.Objects.Hold<Thing>(ioas))
            Assert.Equal(Errno.ENOENT, wrong.Status);
        using var right = context.Objects.Hold<Ioas>(ioas);
        Assert.True(right.Held);
    }

    [Fact]
    public void ClosingTheContextReleasesEveryPin()
    {
        var memory = new SimulatedUserMemory();
        memory.Map(0x10000, 0x4000);
        var host = new IommuHost(memory, ulong.MaxValue);
        var context = new IommufdContext(host);
        context.CreateIoas(out var id).ThrowIfError("ioas");
        var ioas = context.Objects.Peek<Ioas>(id);
        ioas.PageTable.AddDomain(new Infrastructure.RecordingDomain(IovaRange.Everything)).ThrowIfError("domain");
        var iova = 0UL;
        context.Map(id, 0x10000, 0x4000, IoProt.Read | IoProt.Write, IovaPlacement.Automatic, ref iova).ThrowIfError("map");
        Assert.Equal(1UL, memory.PinCount(0x11000));
        Assert.Equal(4UL, host.UserAccount.UsedPages);
        context.Dispose();
        Assert.Equal(0UL, memory.PinCount(0x11000));
        Assert.Equal(0UL, host.UserAccount.UsedPages);
    }
}
