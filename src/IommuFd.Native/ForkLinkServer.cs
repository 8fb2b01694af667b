using IommuFd.Core;

namespace IommuFd.Native;

/// <summary>
/// The parent's side of <see cref="ForkLink"/>: one background thread polls every child's link
/// and runs each request through <see cref="Engine.IoctlFor"/>, as the child's process. A link
/// closes when its child (and any grandchild holding it) has exited or closed it.
/// </summary>
internal static unsafe class ForkLinkServer
{
    private sealed class Link(int fd)
    {
        public readonly int Fd = fd;
        public int Pid;
        public IommuHost? Caller;
    }

    private static readonly Lock Sync = new();
    private static readonly List<Link> Links = [];
    private static int _wake = -1;
    private static Thread? _thread;

    public static void Add(int fd)
    {
        lock (Sync)
        {
            Links.Add(new Link(fd));
            if (_thread is null)
            {
                _wake = Libc.EventFd(0, Libc.EfdCloexec);
                _thread = new Thread(Run) { IsBackground = true, Name = "iommufd fork links" };
                _thread.Start();
            }
        }
        Wake();
    }

    private static void Wake()
    {
        if (_wake < 0)
            return;
        ulong one = 1;
        Libc.Write(_wake, (byte*)&one, sizeof(ulong));
    }

    private static void Run()
    {
        while (true)
        {
            Link[] links;
            lock (Sync)
                links = [.. Links];
            var fds = new Libc.PollFd[links.Length + 1];
            fds[0] = new Libc.PollFd { Fd = _wake, Events = Libc.PollIn };
            for (var i = 0; i < links.Length; i++)
                fds[i + 1] = new Libc.PollFd { Fd = links[i].Fd, Events = Libc.PollIn };
            fixed (Libc.PollFd* p = fds)
            {
                if (Libc.Poll(p, (nuint)fds.Length, -1) < 0)
                    continue; // EINTR
            }
            if (fds[0].Revents != 0)
            {
                ulong drained;
                Libc.Read(_wake, (byte*)&drained, sizeof(ulong));
            }
            for (var i = 0; i < links.Length; i++)
            {
                if (fds[i + 1].Revents != 0 && !Serve(links[i]))
                {
                    lock (Sync)
                        Links.Remove(links[i]);
                    Libc.Close(links[i].Fd);
                }
            }
        }
    }

    /// <summary>One request; false when the link is finished (the child end is gone).</summary>
    private static bool Serve(Link link)
    {
        ForkLink.Request request;
        var got = Libc.Recv(link.Fd, &request, (nuint)sizeof(ForkLink.Request), 0);
        if (got <= 0)
            return false;
        int result;
        if (got != sizeof(ForkLink.Request) || request.Pid <= 0)
        {
            result = -(int)Errno.EINVAL;
        }
        else
        {
            if (link.Caller is null || link.Pid != request.Pid)
            {
                link.Caller = Engine.HostForChild(request.Pid);
                link.Pid = request.Pid;
            }
            try
            {
                result = link.Caller is { } caller ? Engine.IoctlFor(caller, request.Handle, request.Command, request.Argument) : -(int)Errno.EIO;
            }
            catch (Exception e)
            {
                result = e is OutOfMemoryException ? -(int)Errno.ENOMEM : -(int)Errno.EIO;
            }
        }
        Libc.Send(link.Fd, &result, sizeof(int), Libc.MsgNoSignal);
        return true;
    }
}
