using IommuFd.Abi.Dispatch;
using IommuFd.Core;
using IommuFd.Core.Memory;

namespace IommuFd.Native;

/// <summary>
/// The process-wide engine behind the exports: one <see cref="IommuHost"/> (this process's memory
/// and RLIMIT_MEMLOCK) shared by every context, and the handle table.
/// </summary>
/// <remarks>
/// fork(): a child gets a copy of everything here, but not the threads that were running in it,
/// so inherited state (contexts, locks) may be mid-change. The first call in a child therefore
/// starts a new epoch with a fresh host and table, touching nothing inherited: contexts opened
/// in the child work; handles inherited from the parent are EIO (see docs/fork.md).
/// </remarks>
internal static class Engine
{
    private const int EBADF = 9;
    private const int EIO = 5;

    private static readonly Lock InitLock = new();
    private static readonly Action StartEpochAction = StartEpoch;
    private static IUserMemory _memory = ProcessUserMemory.Instance;
    private static volatile IommuHost? _host;
    private static volatile ContextTable _contexts = new(0);

    public static unsafe int Initialize(HostCallbacks* callbacks)
    {
        lock (InitLock)
        {
            if (_host is not null)
                return 0;
            if (callbacks is not null)
            {
                if (callbacks->Size < HostCallbacks.ExpectedSize || callbacks->Version != HostCallbacks.CurrentVersion)
                    return -22; // EINVAL: a shim built against another ABI
                if (callbacks->CopyFromUser is not null && callbacks->CopyToUser is not null)
                    _memory = new HostUserMemory(*callbacks, ProcessUserMemory.Instance);
            }
            ForkGuard.Initialize();
            var trace = Environment.GetEnvironmentVariable("IOMMUFD_EMU_TRACE");
            if (!string.IsNullOrEmpty(trace) && IoctlTracer.Open(trace) is { } tracer)
                IoctlDispatcher.Observer = tracer.Record;
            _host = new IommuHost(_memory, MemlockLimit.ForThisProcess());
            return 0;
        }
    }

    public static unsafe long Open()
    {
        if (_host is null)
            Initialize(null); // a caller that skipped init gets this process's memory
        ForkGuard.CheckAndRearm(StartEpochAction);
        var context = new IommufdContext(_host!);
        var handle = _contexts.Add(context);
        if (handle == 0)
        {
            context.Dispose();
            return -24; // EMFILE
        }
        return handle;
    }

    public static int Ioctl(long handle, ulong command, ulong arg)
    {
        ForkGuard.CheckAndRearm(StartEpochAction);
        var table = _contexts;
        if (!table.TryEnter(handle, out var entry))
            return handle > 0 && ContextTable.EpochOf(handle) < table.Epoch ? -EIO : -EBADF;
        try
        {
            return IoctlDispatcher.Ioctl(entry.Context, command, (nint)arg);
        }
        finally
        {
            table.Leave(entry);
        }
    }

    public static void Close(long handle)
    {
        ForkGuard.CheckAndRearm(StartEpochAction);
        // An inherited handle is simply forgotten: its context belongs to the parent's epoch.
        _contexts.Remove(handle);
    }

    /// <summary>Runs once in a forked child before anything else: nothing inherited is touched.</summary>
    private static void StartEpoch()
    {
        var epoch = Math.Min(_contexts.Epoch + 1, ContextTable.MaxEpoch);
        _host = new IommuHost(_memory, MemlockLimit.ForThisProcess());
        _contexts = new ContextTable(epoch);
    }
}
