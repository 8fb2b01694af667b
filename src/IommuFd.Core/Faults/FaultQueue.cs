using System.Diagnostics;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Faults;

/// <summary>
/// A fault queue (IOMMUFD_OBJ_FAULT): page requests of devices attached to HWPTs that name it wait
/// here until user space reads them, then until it answers them by cookie. Anything still
/// unanswered when the queue goes, or when its device leaves the HWPT, is answered Invalid so no
/// device waits forever. Its lock is a leaf; device callbacks run outside it.
/// </summary>
public sealed class FaultQueue : IommufdObject
{
    private readonly Lock _lock = new();
    private readonly LinkedList<FaultGroup> _waiting = new();
    private readonly Dictionary<uint, FaultGroup> _read = [];
    private uint _lastCookie;

    /// <summary>The descriptor naming the queue, once opened (closed again if the creation is aborted).</summary>
    internal (IObjectFiles Files, int Fd)? File { get; set; }

    public override ObjectKind Kind => ObjectKind.Fault;

    /// <summary>
    /// Told true when a group starts waiting to be read and false when none waits any more (what
    /// POLLIN on the queue's fd reports). Runs under the queue's lock, so calls arrive in order;
    /// it must not call back into the queue.
    /// </summary>
    public Action<bool>? ReadableChanged { get; set; }

    public FaultId TypedId => new(Id.Value);

    /// <summary>Groups raised but not read yet.</summary>
    public int WaitingCount
    {
        get
        {
            lock (_lock)
                return _waiting.Count;
        }
    }

    /// <summary>Groups read but not answered yet.</summary>
    public int AwaitingResponseCount
    {
        get
        {
            lock (_lock)
                return _read.Count;
        }
    }

    /// <summary>Queues a group of requests from <paramref name="device"/> attached to <paramref name="hwpt"/>.</summary>
    public FaultGroup Report(DeviceId device, Hwpt hwpt, IReadOnlyList<PageRequest> requests, Action<PageResponseCode>? onResponse = null)
    {
        ArgumentOutOfRangeException.ThrowIfZero(requests.Count);
        var group = new FaultGroup(device, hwpt, [.. requests], onResponse);
        lock (_lock)
        {
            _waiting.AddLast(group);
            if (_waiting.Count == 1)
                ReadableChanged?.Invoke(true);
        }
        return group;
    }

    /// <summary>
    /// Hands out waiting groups in order while each fits in <paramref name="room"/> requests; every
    /// group handed out gets a cookie first. <paramref name="deliver"/> returns false when it could
    /// not pass the group on (a bad user buffer): the group goes back to the front, uncookied, and
    /// delivery stops. Returns how many requests were delivered.
    /// </summary>
    public int Deliver(int room, Func<FaultGroup, bool> deliver)
    {
        var delivered = 0;
        lock (_lock)
        {
            while (_waiting.First is { } node && node.Value.Requests.Count <= room - delivered)
            {
                var group = node.Value;
                _waiting.RemoveFirst();
                group.Cookie = NextCookieLocked();
                _read[group.Cookie] = group;
                if (!deliver(group))
                {
                    _read.Remove(group.Cookie);
                    group.Cookie = 0;
                    _waiting.AddFirst(group);
                    break;
                }
                delivered += group.Requests.Count;
            }
            if (delivered > 0 && _waiting.Count == 0)
                ReadableChanged?.Invoke(false);
        }
        return delivered;
    }

    /// <summary>Answers the group read with <paramref name="cookie"/>: EINVAL when no group waits on it.</summary>
    public Errno Respond(uint cookie, PageResponseCode code)
    {
        if (code is not (PageResponseCode.Success or PageResponseCode.Invalid))
            return Errno.EINVAL;
        FaultGroup? group;
        lock (_lock)
        {
            if (!_read.Remove(cookie, out group))
                return Errno.EINVAL;
        }
        group.Answer(code);
        return Errno.Ok;
    }

    /// <summary>The device left <paramref name="hwpt"/>: its groups from there, read or not, are answered Invalid.</summary>
    internal void AnswerLeftBehind(DeviceId device, Hwpt hwpt)
    {
        var dropped = new List<FaultGroup>();
        lock (_lock)
        {
            for (var node = _waiting.First; node is not null;)
            {
                var next = node.Next;
                if (node.Value.Device == device && ReferenceEquals(node.Value.Hwpt, hwpt))
                {
                    dropped.Add(node.Value);
                    _waiting.Remove(node);
                }
                node = next;
            }
            foreach (var (cookie, group) in _read.Where(e => e.Value.Device == device && ReferenceEquals(e.Value.Hwpt, hwpt)).ToList())
            {
                _read.Remove(cookie);
                dropped.Add(group);
            }
            if (dropped.Count > 0 && _waiting.Count == 0)
                ReadableChanged?.Invoke(false);
        }
        foreach (var group in dropped)
            group.Answer(PageResponseCode.Invalid);
    }

    protected internal override void OnAbort()
    {
        if (File is { } open)
            open.Files.Close(open.Fd);
        OnDestroy();
    }

    protected internal override void OnDestroy()
    {
        List<FaultGroup> all;
        lock (_lock)
        {
            all = [.. _waiting, .. _read.Values];
            _waiting.Clear();
            _read.Clear();
        }
        foreach (var group in all)
            group.Answer(PageResponseCode.Invalid);
    }

    /// <summary>Cookies start at 1 (0 would read as "none") and skip any still awaiting an answer.</summary>
    private uint NextCookieLocked()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        do
            _lastCookie = _lastCookie == uint.MaxValue ? 1 : _lastCookie + 1;
        while (_read.ContainsKey(_lastCookie));
        return _lastCookie;
    }
}
