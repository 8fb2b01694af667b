using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Objects;

public sealed class ObjectTableTests
{
    private sealed class Thing : IommufdObject
    {
        public int Destroyed;

        public override ObjectKind Kind => ObjectKind.Selftest;

        protected internal override void OnDestroy() => Destroyed++;
    }

    [Fact]
    public void IdsStartAtOneAndTheLowestFreeIsReused()
    {
        var table = new ObjectTable();
        var things = Enumerable.Range(0, 4).Select(_ => new Thing()).ToList();
        foreach (var t in things)
        {
            Assert.Equal(Errno.Ok, table.Reserve(t));
            table.Publish(t);
        }
        Assert.Equal([1u, 2u, 3u, 4u], things.Select(t => t.Id.Value));
        Assert.Equal(Errno.Ok, table.Destroy(new ObjectId(3)));
        Assert.Equal(Errno.Ok, table.Destroy(new ObjectId(2)));
        var next = new Thing();
        table.Reserve(next);
        Assert.Equal(2u, next.Id.Value);
    }

    [Fact]
    public void ReservedObjectsAreInvisibleAndAbortLeavesNoTrace()
    {
        var table = new ObjectTable();
        var t = new Thing();
        table.Reserve(t);
        Assert.Equal(Errno.ENOENT, table.TryHold<Thing>(t.Id, out _));
        Assert.Equal(Errno.ENOENT, table.Destroy(t.Id));
        table.Abort(t);
        Assert.Equal(0, table.Count);
        Assert.Equal(0, t.Destroyed);
        var again = new Thing();
        table.Reserve(again);
        Assert.Equal(t.Id, again.Id);
    }

    [Fact]
    public void UsersMakeDestroyBusyAndHoldsDelayTeardown()
    {
        var table = new ObjectTable();
        var t = new Thing();
        table.Reserve(t);
        table.Publish(t);
        table.AddUser(t);
        Assert.Equal(Errno.EBUSY, table.Destroy(t.Id));
        table.RemoveUser(t);
        Assert.Equal(Errno.Ok, table.TryHold<Thing>(t.Id, out var held));
        Assert.Equal(Errno.Ok, table.Destroy(t.Id));
        Assert.Equal(0, t.Destroyed);
        Assert.Equal(Errno.ENOENT, table.TryHold<Thing>(t.Id, out _));
        table.Release(held);
        Assert.Equal(1, t.Destroyed);
    }

    [Fact]
    public void TypedLookupOfAnotherKindIsEnoent()
    {
        using var context = new IommufdContext(new IommuHost(new SimulatedUserMemory(), ulong.MaxValue));
        context.CreateIoas(out var ioas).ThrowIfError("ioas");
        Assert.Equal(Errno.ENOENT, context.Objects.TryHold<Thing>(ioas, out _));
        Assert.Equal(Errno.Ok, context.Objects.TryHold<Ioas>(ioas, out var held));
        context.Objects.Release(held);
    }

    [Fact]
    public void ClosingTheContextReleasesEveryPin()
    {
        var memory = new SimulatedUserMemory();
        memory.Map(0x10000, 0x4000);
        var host = new IommuHost(memory, ulong.MaxValue);
        var context = new IommufdContext(host);
        context.CreateIoas(out var id).ThrowIfError("ioas");
        context.Objects.TryHold<Ioas>(id, out var ioas).ThrowIfError("hold");
        context.Objects.Release(ioas);
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
