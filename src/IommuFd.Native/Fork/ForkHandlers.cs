using System.Runtime.InteropServices;

namespace IommuFd.Native.Fork;

/// <summary>
/// The engine's pthread_atfork handlers, registered once per copy of the engine. They act on the
/// route of the current epoch: this process's engine closes its call gate before the fork and
/// reopens it after (<see cref="LocalEngine.PrepareFork"/>); a child that never called the engine
/// leaves them alone (its route and gate are still the parent's).
/// </summary>
/// <remarks>
/// The order around every fork() (written once, here and in native/preload/engine.c). glibc runs
/// prepare handlers in reverse order of registration and parent/child handlers in order; the shim
/// registers its handlers before it calls iommufd_emu_init, so:
/// <list type="number">
/// <item>this prepare handler: closes the gate and waits for every thread inside the engine to leave.
/// Such a thread may call back into the shim (open_object_fd, set_object_readable, close_fd), whose
/// table lock is still free, so it can leave;</item>
/// <item>the shim's prepare handler: takes its engine-load and fd table locks;</item>
/// <item>fork; the shim's parent/child handlers release its locks;</item>
/// <item>this parent handler: hands the fork link to its server and reopens the gate. The child has
/// no handler: its first call starts a new epoch instead (<see cref="EpochRouter"/>).</item>
/// </list>
/// A fresh copy of the engine loaded in a child (<see cref="EngineCopy"/>) registers its own
/// handlers later, so they run before all of these, and the relaying copy's do nothing.
/// </remarks>
internal static unsafe class ForkHandlers
{
    private static EpochRouter? _router;
    private static IEngineRoute? _prepared;

    public static void Register(EpochRouter router)
    {
        _router = router;
        Libc.PthreadAtfork(&Prepare, &Parent, null);
    }

    [UnmanagedCallersOnly]
    private static void Prepare()
    {
        try
        {
            if (_router?.ForForkHandlers is not { } route)
                return;
            route.PrepareFork();
            _prepared = route;
        }
        catch
        {
            // Never fail a fork.
        }
    }

    [UnmanagedCallersOnly]
    private static void Parent()
    {
        var route = _prepared;
        _prepared = null;
        try
        {
            route?.AfterForkInParent();
        }
        catch
        {
            // Never fail a fork: the child's inherited fds then answer EIO.
        }
    }
}
