using System.Runtime.InteropServices;
using IommuFd.Core;

namespace IommuFd.Native;

/// <summary>
/// Lets a forked child use an iommufd fd it inherited. In the kernel parent and child share one
/// open file, so a MAP in the child lands in the parent's IOAS, with the child's memory. Here the
/// context lives in the parent's engine, so the child sends each such ioctl over a socket made at
/// fork time and the parent runs it on the child's behalf (<see cref="ForkLinkServer"/>), reaching
/// the child's memory by its pid. The child's own new contexts never take this path.
/// </summary>
/// <remarks>
/// Child side: nothing here allocates, as the child's copy of this runtime must never collect
/// (docs/fork.md). One request is in flight per process at a time. A grandchild using an fd its
/// grandparent opened shares its parent's link; requests from both at once could cross replies,
/// which nothing we know of does.
/// </remarks>
internal static unsafe class ForkLink
{
    private const int EIO = 5;

    [StructLayout(LayoutKind.Sequential)]
    public struct Request
    {
        public int Pid;
        public int Reserved;
        public long Handle;
        public ulong Command;
        public ulong Argument;
    }

    // Written by the parent's fork handlers; in the child they describe the child's end.
    private static int _childEnd = -1;
    private static int _serverEnd = -1;
    private static int _parentPid;
    private static int _epoch = -1;
    private static int _busy;

    /// <summary>Parent, before fork: a link for the coming child, when there is a context it could inherit.</summary>
    public static void Prepare(ContextTable contexts)
    {
        if (contexts.LiveCount == 0)
            return;
        var fds = stackalloc int[2];
        if (Libc.SocketPair(Libc.AfUnix, Libc.SockSeqpacket | Libc.SockCloexec, 0, fds) != 0)
            return; // the child's inherited fds then answer EIO, as before links existed
        _serverEnd = fds[0];
        _childEnd = fds[1];
        _parentPid = Libc.GetPid();
        _epoch = contexts.Epoch;
    }

    /// <summary>Parent, after fork: keep our end for the server, drop the child's.</summary>
    public static void Parent()
    {
        if (_childEnd < 0)
            return;
        Libc.Close(_childEnd);
        var server = _serverEnd;
        _childEnd = _serverEnd = -1;
        ForkLinkServer.Add(server);
    }

    /// <summary>True in a child for a handle its parent's engine issued. One load in the parent.</summary>
    public static bool Owns(long handle) =>
        _childEnd >= 0 && ContextTable.EpochOf(handle) == _epoch && Libc.GetPid() != _parentPid;

    /// <summary>Child: runs the ioctl in the parent; its result, or -EIO when the parent is gone.</summary>
    public static int Forward(long handle, ulong command, ulong argument)
    {
        var request = new Request { Pid = Libc.GetPid(), Handle = handle, Command = command, Argument = argument };
        var result = -EIO;
        while (Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
            Thread.SpinWait(20);
        try
        {
            if (Libc.Send(_childEnd, &request, (nuint)sizeof(Request), Libc.MsgNoSignal) != sizeof(Request))
                return -EIO;
            int reply;
            if (Libc.Recv(_childEnd, &reply, sizeof(int), 0) != sizeof(int))
                return -EIO;
            result = reply;
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
        return result;
    }
}
