namespace IommuFd.Native.Tests;

/// <summary>Gate callers block in a native mutex, so these use threads of their own, not the pool.</summary>
public sealed class CallGateTests
{
    private static readonly TimeSpan Long = TimeSpan.FromSeconds(30);

    private static Thread Run(Action action)
    {
        var thread = new Thread(() => action()) { IsBackground = true };
        thread.Start();
        return thread;
    }

    /// <summary>A thread inside the gate on handle 9 until <paramref name="leave"/> is set.</summary>
    private static Thread CallInside(CallGate gate, ManualResetEventSlim inside, ManualResetEventSlim leave)
    {
        var thread = Run(() =>
        {
            using (gate.Enter(9))
            {
                inside.Set();
                leave.Wait(Long);
            }
        });
        Assert.True(inside.Wait(Long));
        return thread;
    }

    [Fact]
    public void A_scope_marks_the_thread_inside_until_disposed()
    {
        var gate = new CallGate();
        Assert.Equal(0, gate.CurrentHandle);
        using (gate.Enter(42))
        {
            Assert.Equal(42, gate.CurrentHandle);
            Assert.False(gate.NoneInside(42));
            Assert.True(gate.NoneInside(43));
        }
        Assert.Equal(0, gate.CurrentHandle);
        Assert.True(gate.NoneInside(42));
    }

    [Fact]
    public void Entering_again_from_inside_keeps_the_outer_mark()
    {
        var gate = new CallGate();
        using (gate.Enter(7))
        {
            using (gate.Enter(CallGate.NoContext))
                Assert.Equal(7, gate.CurrentHandle);
            Assert.Equal(7, gate.CurrentHandle); // the inner scope did not leave for the outer one
        }
        Assert.Equal(0, gate.CurrentHandle);
    }

    [Fact]
    public void Another_gate_does_not_see_this_gates_calls()
    {
        var first = new CallGate();
        var second = new CallGate();
        using (first.Enter(5))
        {
            Assert.Equal(0, second.CurrentHandle);
            Assert.True(second.NoneInside(5));
        }
    }

    [Fact]
    public void Closing_for_fork_waits_for_a_call_inside_to_leave()
    {
        var gate = new CallGate(Long);
        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var call = CallInside(gate, inside, leave);
        var drained = false;
        var closer = Run(() => drained = gate.CloseForFork());
        Assert.False(closer.Join(200)); // still waiting for the call
        leave.Set();
        Assert.True(closer.Join(Long) && call.Join(Long));
        Assert.True(drained);
        gate.ReopenAfterFork();
    }

    [Fact]
    public void Closing_for_fork_gives_up_on_a_stuck_call_after_the_timeout()
    {
        var gate = new CallGate(TimeSpan.FromMilliseconds(50));
        using var inside = new ManualResetEventSlim();
        using var leave = new ManualResetEventSlim();
        var call = CallInside(gate, inside, leave);
        Assert.False(gate.CloseForFork());
        gate.ReopenAfterFork();
        leave.Set();
        Assert.True(call.Join(Long));
    }

    [Fact]
    public void A_caller_arriving_while_closed_waits_until_reopened()
    {
        var gate = new CallGate();
        Assert.True(gate.CloseForFork());
        var entered = 0;
        var caller = Run(() =>
        {
            using (gate.Enter(3))
                Volatile.Write(ref entered, 1);
        });
        Assert.False(caller.Join(200));
        Assert.Equal(0, Volatile.Read(ref entered));
        gate.ReopenAfterFork();
        Assert.True(caller.Join(Long));
        Assert.Equal(1, entered);
    }
}
