using System.Runtime.InteropServices;
using IommuFd.Core;

namespace IommuFd.Native.Fork;

/// <summary>
/// Lets a forked child use an iommufd fd it inherited. In the kernel parent and child share one
/// open file, so a MAP in the child lands in the parent's IOAS, with the child's memory. Here the
/// context lives in the parent's engine, so the child sends each such ioctl over a socket made at
/// fork time and the parent runs it on the child's behalf (<see cref="ForkLinkServer"/>), reaching
/// the child's memory by its pid. The child's own new contexts never take this path.
/// </summary>
/// <remarks>
/// One per engine epoch: the parent's fork handlers fill it in (<see cref="Prepare"/>,
/// <see cref="HandToServer"/>), the child's copy of it is the child's end. Child side: nothing
/// here allocates, as the child's copy of this runtime must never collect (docs/fork.md). One
/// request is in flight per process at a time. A grandchild using an fd its grandparent opened
/// shares its parent's link; requests from both at once could cross replies, which nothing we
/// know of does.
/// </remarks>
internal sealed unsafe class ForkLink
{
    [StructLayout(LayoutKind.Sequential)]
    public struct Request
    {
        public int Pid;
        public int Reserved;
        public long Handle;
        public ulong Command;
        public ulong Argument;
    }

    private int _childEnd = -1;
    private int _serverEnd = -1;
    private int _busy;

    /// <summary>Parent, before fork: a link for the coming child, when it could inherit a context.</summary>
    public void Prepare(ContextTable contexts)
    {
        if (contexts.LiveCount == 0)
            return;
        var fds = stackalloc int[2];
        if (Libc.SocketPair(Libc.AfUnix, Libc.SockSeqpacket | Libc.SockCloexec, 0, fds) != 0)
            return; // the child's inherited fds then answer EIO
        _serverEnd = fds[0];
        _childEnd = fds[1];
    }

    /// <summary>Parent, after fork: our end goes to the server, the child's is closed here.</summary>
    public void HandToServer(ForkLinkServer server)
    {
        if (_childEnd < 0)
            return;
        Libc.Close(_childEnd);
        var serverEnd = _serverEnd;
        _childEnd = _serverEnd = -1;
        server.Add(serverEnd);
    }

    /// <summary>
    /// A request that is not an ioctl (handle 0, which names no context): the pins of process
    /// <see cref="Request.Reserved"/>, written by the parent to the child's <see cref="Request.Argument"/>.
    /// </summary>
    public const ulong PinsQuery = ulong.MaxValue;

    /// <summary>Child: runs the ioctl in the parent; its result, or EIO without a link or a parent.</summary>
    public int Forward(long handle, ulong command, ulong argument) =>
        Exchange(new Request { Pid = Libc.GetPid(), Handle = handle, Command = command, Argument = argument });

    /// <summary>Child: the parent engine's count of process <paramref name="pid"/>'s pins; 0, -ENOENT, or EIO without a link.</summary>
    public int QueryPins(int pid, PinCounts* counts) =>
        Exchange(new Request { Pid = Libc.GetPid(), Reserved = pid, Handle = 0, Command = PinsQuery, Argument = (ulong)counts });

    private int Exchange(Request request)
    {
        if (_childEnd < 0)
            return NativeResult.Of(Errno.EIO);
        while (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            Thread.SpinWait(20);
        try
        {
            int reply;
            if (Libc.Send(_childEnd, &request, (nuint)sizeof(Request), Libc.MsgNoSignal) != sizeof(Request) ||
                Libc.Recv(_childEnd, &reply, sizeof(int), 0) != sizeof(int))
                return NativeResult.Of(Errno.EIO);
            return reply;
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }
}
