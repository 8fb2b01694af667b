using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Tests.FaultInjection;

/// <summary>A step of a sequence returned an error; the sequence stops there (as the kernel's fail-nth tests do).</summary>
public sealed class StepFailed(int index, string name, Errno errno) : Exception($"step {index} ({name}) failed: {errno}")
{
    public int Index { get; } = index;
    public string StepName { get; } = name;
    public Errno Errno { get; } = errno;
}

/// <summary>
/// One run of a sequence: a fresh <see cref="AbiSession"/>, user buffers made before anything is
/// armed, the fds the program learnt of, and a step runner that stops at the first error and can
/// record the engine's state around every step (the reference run).
/// </summary>
public sealed class SweepWorld : IDisposable
{
    /// <summary>Pages of user memory the sequences map; their pin counts are part of the state.</summary>
    public const ulong BufferBytes = 0x4_0000;

    public SweepWorld()
    {
        Session = new AbiSession();
        Buffer = Session.Heap.Alloc(BufferBytes);
        Spare = Session.Heap.Alloc(0x2000);
        Scratch = Session.Heap.Alloc(0x1000);
        for (var i = 0UL; i < BufferBytes; i += 8)
            Session.Heap.Write(Buffer + i, i * 0x9e37_79b9);
    }

    public AbiSession Session { get; }

    /// <summary>User memory the sequence maps.</summary>
    public ulong Buffer { get; }

    /// <summary>User memory only the post-failure map/unmap check uses.</summary>
    public ulong Spare { get; }

    /// <summary>A page for arrays, bitmaps and read buffers.</summary>
    public ulong Scratch { get; }

    /// <summary>Descriptors the program was told of and has not closed.</summary>
    public List<int> Fds { get; } = [];

    /// <summary>Called before and after every step (reference run only).</summary>
    public Action<int, string, bool>? Recorder { get; init; }

    public int StepCount { get; private set; }

    /// <summary>Runs one step: any error stops the sequence.</summary>
    public void Step(string name, Func<Errno> operation)
    {
        Recorder?.Invoke(StepCount, name, false);
        var rc = operation();
        if (rc != Errno.Ok)
            throw new StepFailed(StepCount, name, rc);
        Recorder?.Invoke(StepCount, name, true);
        StepCount++;
    }

    /// <summary>Places <paramref name="cmd"/>, issues its ioctl as one step, and returns it as read back.</summary>
    public T Do<T>(string name, T cmd) where T : unmanaged
    {
        var c = cmd;
        Step(name, () => Session.Ioctl(ref c));
        return c;
    }

    public uint AllocIoas() => Do("IOAS_ALLOC", Cmd.IoasAlloc()).OutIoasId;

    public MockIds MockDomain(uint ptId)
    {
        var after = Do("MOCK_DOMAIN", DevCmd.Test(Mock.OpMockDomain, ptId));
        return new MockIds(after.MockDomain.OutStdevId, after.MockDomain.OutHwptId, after.MockDomain.OutIdevId);
    }

    public void Replace(uint stdev, uint ptId)
    {
        var cmd = DevCmd.Test(Mock.OpMockDomainReplace, stdev);
        cmd.MockDomainReplace.PtId = ptId;
        Do("MOCK_DOMAIN_REPLACE", cmd);
    }

    public void Destroy(uint id, string what) => Do($"DESTROY {what}", Cmd.Destroy(id));

    /// <summary>Closes an fd the program holds (close(2): not a fault site, never fails).</summary>
    public void Close(int fd)
    {
        Step("close", () => Session.Host.Files.Close(fd));
        Fds.Remove(fd);
    }

    public IObjectFileOperations File(int fd) => Assert.IsAssignableFrom<IObjectFileOperations>(Session.Host.Files.Lookup(fd));

    /// <summary>Closes every fd still open and the context itself, as a process exiting would.</summary>
    public void CloseEverything()
    {
        foreach (var fd in Fds)
            Assert.Equal(Errno.Ok, Session.Host.Files.Close(fd));
        Fds.Clear();
        Session.Dispose();
    }

    public void Dispose()
    {
        if (Fds.Count != 0)
            CloseEverything();
    }
}
