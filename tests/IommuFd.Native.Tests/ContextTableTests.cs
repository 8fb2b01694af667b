using IommuFd.Core;
using IommuFd.Core.Memory;

namespace IommuFd.Native.Tests;

public sealed class ContextTableTests
{
    /// <summary>A context holding one IOAS, so its disposal shows as an empty object table.</summary>
    private static IommufdContext NewContext()
    {
        var context = new IommufdContext(new IommuHost(new SimulatedUserMemory(), memlockLimitBytes: ulong.MaxValue));
        Assert.Equal(Errno.Ok, context.CreateIoas(out _));
        return context;
    }

    private static bool Disposed(IommufdContext context) => context.Objects.Count == 0;

    [Fact]
    public void Handles_are_positive_carry_the_epoch_and_are_found()
    {
        var table = new ContextTable(epoch: 3, new CallGate());
        var a = table.Add(NewContext());
        var b = table.Add(NewContext());
        Assert.True(a > 0 && b > 0 && a != b);
        Assert.Equal(3, ContextTable.EpochOf(a));
        Assert.Equal(3, ContextTable.EpochOf(b));
        Assert.Same(table.Find(a)!.Context, table.Find(a)!.Context);
        Assert.NotSame(table.Find(a)!.Context, table.Find(b)!.Context);
        Assert.Equal(2, table.LiveCount);
    }

    [Fact]
    public void A_closed_handle_is_never_found_again_even_when_its_slot_is_reused()
    {
        var table = new ContextTable(epoch: 0, new CallGate());
        var first = table.Add(NewContext());
        Assert.True(table.Remove(first));
        var second = table.Add(NewContext()); // the same slot, another serial
        Assert.NotEqual(first, second);
        Assert.Null(table.Find(first));
        Assert.NotNull(table.Find(second));
        Assert.False(table.Remove(first));
    }

    [Theory]
    [InlineData(0L)]
    [InlineData(-1L)]
    [InlineData(long.MaxValue)]
    public void Garbage_handles_are_not_found(long handle)
    {
        var table = new ContextTable(epoch: 0, new CallGate());
        table.Add(NewContext());
        Assert.Null(table.Find(handle));
    }

    [Fact]
    public void Closing_while_a_call_is_inside_disposes_when_the_call_leaves()
    {
        var gate = new CallGate();
        var table = new ContextTable(epoch: 0, gate);
        var handle = table.Add(NewContext());
        var entry = table.Find(handle)!;
        using (gate.Enter(handle))
        {
            Assert.True(table.Remove(handle));
            Assert.False(Disposed(entry.Context)); // still alive for the call inside
        }
        table.AfterLeavingClosed(entry);
        Assert.True(Disposed(entry.Context));
    }

    [Fact]
    public void Closing_with_no_call_inside_disposes_at_once()
    {
        var table = new ContextTable(epoch: 0, new CallGate());
        var handle = table.Add(NewContext());
        var entry = table.Find(handle)!;
        table.Remove(handle);
        Assert.True(Disposed(entry.Context));
        Assert.Equal(0, table.LiveCount);
    }

    [Fact]
    public void The_epoch_after_the_last_one_repeats_it()
    {
        Assert.Equal(1, ContextTable.NextEpoch(0));
        Assert.Equal(ContextTable.MaxEpoch, ContextTable.NextEpoch(ContextTable.MaxEpoch));
    }
}
