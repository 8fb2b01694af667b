using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Native.Tests;

/// <summary>
/// The fail-nth exports' engine side: a thread's own setting is its countdown in the engine (the
/// Nth site of its next calls fails, reading back 0 once injected); a value written for another
/// thread waits for that thread's next entry into the engine.
/// </summary>
public sealed unsafe class ThreadFailNthTests
{
    private const ulong IommuIoasAlloc = 0x3b81;

    private static int AllocIoas(IEngineRoute route, long handle)
    {
        var cmd = (uint*)NativeMemory.AllocZeroed(12);
        try
        {
            cmd[0] = 12;
            return route.Ioctl(handle, IommuIoasAlloc, (ulong)cmd);
        }
        finally
        {
            NativeMemory.Free(cmd);
        }
    }

    [Fact]
    public void The_calling_threads_setting_fails_its_next_engine_call_once()
    {
        var engine = new LocalEngine(null, 0, null);
        var handle = engine.Open();
        var tid = Libc.GetTid();
        try
        {
            Assert.Equal(0, engine.FailNthSet(tid, 2));
            Assert.Equal(2, engine.FailNthGet(tid));
            // IOAS_ALLOC: the struct is copied in (site 1), then the object is allocated (site 2).
            Assert.Equal(-(int)Errno.ENOMEM, AllocIoas(engine, handle));
            Assert.Equal(0, engine.FailNthGet(tid));
            Assert.Equal(0, AllocIoas(engine, handle));
            Assert.Equal(0, engine.FailNthSet(tid, 1000));
            Assert.Equal(0, AllocIoas(engine, handle));
            Assert.Equal(997, engine.FailNthGet(tid)); // copy in, allocate, copy out
        }
        finally
        {
            FailNth.Remaining = 0;
            engine.Close(handle);
        }
    }

    [Fact]
    public void A_value_for_another_thread_waits_for_it_to_enter_the_engine()
    {
        var engine = new LocalEngine(null, 0, null);
        var handle = engine.Open();
        using var written = new ManualResetEventSlim();
        int otherTid = 0, seenBefore = -1, result = 0;
        long left = -1;
        var other = new Thread(() =>
        {
            otherTid = Libc.GetTid();
            written.Wait();
            seenBefore = FailNth.Remaining;
            result = AllocIoas(engine, handle);
            left = engine.FailNthGet(Libc.GetTid());
        });
        other.Start();
        while (Volatile.Read(ref otherTid) == 0)
            Thread.Yield();
        Assert.Equal(0, engine.FailNthSet(otherTid, 1));
        Assert.Equal(1, engine.FailNthGet(otherTid));
        Assert.Equal(0, FailNth.Remaining); // this thread is not affected
        written.Set();
        other.Join();
        engine.Close(handle);
        Assert.Equal(0, seenBefore);
        Assert.Equal(-(int)Errno.EFAULT, result); // its first site: copying the struct in
        Assert.Equal(0, left);
        Assert.Equal(0, engine.FailNthGet(otherTid));
    }
}
