using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// Calls relayed from another process sharing the context (a forked child's inherited fd): the
/// structs live in that process's memory, and no new object fd can be handed to it.
/// </summary>
public sealed class ForeignCallerTests : IDisposable
{
    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    /// <summary>Runs <paramref name="cmd"/> as if issued by this very process seen as a foreign one.</summary>
    private unsafe Errno AsForeign<T>(ref T cmd, uint number) where T : unmanaged
    {
        var caller = _s.Host.ForChildProcess(Environment.ProcessId);
        fixed (T* p = &cmd)
            return (Errno)(-IoctlDispatcher.Ioctl(_s.Context, caller, number, (nint)p));
    }

    [Fact]
    public void Structs_are_read_from_the_callers_memory()
    {
        var alloc = Cmd.IoasAlloc();
        Assert.Equal(Errno.Ok, AsForeign(ref alloc, Header.IoasAlloc));
        Assert.NotEqual(0u, alloc.OutIoasId);
        Assert.Equal(1, _s.Context.Objects.Count);
    }

    [Fact]
    public void No_object_fd_can_be_handed_to_another_process_and_nothing_is_left_behind()
    {
        var ioas = _s.AllocIoas();
        var access = DevCmd.Test(5, ioas);
        Assert.Equal(Errno.EOPNOTSUPP, AsForeign(ref access, Header.TestCmd));
        var fault = new IommuFaultAlloc { Size = 16 };
        Assert.Equal(Errno.EOPNOTSUPP, AsForeign(ref fault, Header.FaultQueueAlloc));
        Assert.Equal(1, _s.Context.Objects.Count);
        Assert.Equal(Errno.Ok, _s.Destroy(ioas));
    }
}
