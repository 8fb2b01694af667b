using IommuFd.Abi.Dispatch;
using IommuFd.Native.Fork;

namespace IommuFd.Native;

/// <summary>
/// The one piece of process-wide state behind the exports: the <see cref="EpochRouter"/> made
/// by iommufd_emu_init (or by the first call, for a caller that skipped it: this process's
/// memory, simulated object fds).
/// </summary>
internal static unsafe class Routing
{
    private static readonly Lock InitLock = new();
    private static volatile EpochRouter? _router;

    /// <summary>The route for a call now.</summary>
    public static IEngineRoute Current => (_router ?? Start(null, epoch: 0, enginePath: null)).Current;

    /// <summary>
    /// Starts the engine once: <paramref name="epoch"/> 0 for the shim's own load, a child's
    /// epoch for a fresh copy started in a forked child (<see cref="EngineCopy"/>). 0, or -errno.
    /// </summary>
    public static int Initialize(HostCallbacks* callbacks, int epoch, byte* enginePath)
    {
        Start(callbacks, epoch, enginePath);
        return 0;
    }

    private static EpochRouter Start(HostCallbacks* callbacks, int epoch, byte* enginePath)
    {
        lock (InitLock)
        {
            if (_router is { } started)
                return started;
            var trace = Environment.GetEnvironmentVariable("IOMMUFD_EMU_TRACE");
            if (!string.IsNullOrEmpty(trace) && IoctlTracer.Open(trace) is { } tracer)
                IoctlDispatcher.Observer = tracer.Record;
            var engine = new LocalEngine(callbacks, Math.Clamp(epoch, 0, ContextTable.MaxEpoch),
                enginePath is not null ? enginePath : EngineCopy.OwnPath());
            var router = new EpochRouter(new ForkGuard(), engine);
            ForkHandlers.Register(router);
            _router = router;
            return router;
        }
    }
}
