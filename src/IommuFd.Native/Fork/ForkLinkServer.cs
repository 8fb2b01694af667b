using IommuFd.Core;

namespace IommuFd.Native.Fork;

/// <summary>
/// The parent's side of <see cref="ForkLink"/>: one background thread (started with the first
/// link) polls every child's link and runs each request through
/// <see cref="LocalEngine.ServeForChild"/>, as the child's process. A link closes when its child
/// (and any grandchild holding it) has exited or closed it.
/// </summary>
internal sealed unsafe class ForkLinkServer(LocalEngine engine)
{
    private sealed class Link(int fd)
    {
        public readonly int Fd = fd;
        public int Pid;
        public IommuHost? Caller;
    }

    private readonly Lock _sync = new();
    private readonly List<Link> _links = [];
    private int _wake = -1;
    private Thread? _thread;

    public void Add(int fd)
    {
        lock (_sync)
        {
            _links.Add(new Link(fd));
            if (_thread is null)
            {
                _wake = Libc.EventFd(0, Libc.EfdCloexec);
                _thread = new Thread(Run) { IsBackground = true, Name = "iommufd fork links" };
                _thread.Start();
            }
        }
        Wake();
    }

    private void Wake()
    {
        if (_wake < 0)
            return;
        ulong one = 1;
        Libc.Write(_wake, (byte*)&one, sizeof(ulong));
    }

    private void Run()
    {
        while (true)
        {
            Link[] links;
            lock (_sync)
                links = [.. _links];
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
                    lock (_sync)
                        _links.Remove(links[i]);
                    Libc.Close(links[i].Fd);
                }
            }
        }
    }

    /// <summary>One request; false when the link is finished (the child end is gone).</summary>
    private bool Serve(Link link)
    {
        ForkLink.Request request;
        var got = Libc.Recv(link.Fd, &request, (nuint)sizeof(ForkLink.Request), 0);
        if (got <= 0)
            return false;
        var result = got != sizeof(ForkLink.Request) || request.Pid <= 0
            ? NativeResult.Of(Errno.EINVAL)
            : Execute(link, request);
        Libc.Send(link.Fd, &result, sizeof(int), Libc.MsgNoSignal);
        return true;
    }

    private int Execute(Link link, in ForkLink.Request request)
    {
        try
        {
            if (link.Caller is null || link.Pid != request.Pid)
            {
                link.Caller = engine.HostForChild(request.Pid);
                link.Pid = request.Pid;
            }
            if (request.Handle == 0 && request.Command == ForkLink.PinsQuery)
                return engine.ServePinsForChild(link.Caller, request.Reserved, request.Argument);
            return engine.ServeForChild(link.Caller, request.Handle, request.Command, request.Argument);
        }
        catch (Exception e)
        {
            return NativeResult.FromException(e);
        }
    }
}
