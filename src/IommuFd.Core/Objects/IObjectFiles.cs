using IommuFd.Core.FaultInjection;
namespace IommuFd.Core.Objects;

/// <summary>
/// File descriptors that name engine objects (the self-test's access fd; later fault and event
/// queues). The shim backs them with real kernel fds; embedders and tests use a simulated table.
/// </summary>
public interface IObjectFiles
{
    /// <summary>Opens a descriptor for <paramref name="target"/>; <paramref name="onLastClose"/> runs when it is closed.</summary>
    Errno Open(object target, Action onLastClose, out int fd);

    /// <summary>The object <paramref name="fd"/> names, or null when it names none of ours.</summary>
    object? Lookup(int fd);

    /// <summary>Closes a descriptor opened here (EBADF otherwise).</summary>
    Errno Close(int fd);

    /// <summary>
    /// Says whether reading the descriptors of <paramref name="target"/> would find something, so
    /// poll/select/epoll report POLLIN as the kernel's fault fd does. Called in order of the
    /// changes; an unknown or closed target is ignored.
    /// </summary>
    void SetReadable(object target, bool readable);
}

/// <summary>How the engine makes every descriptor: behind the <see cref="FaultSite.FileOpen"/> fault site.</summary>
public static class ObjectFilesExtensions
{
    /// <summary><see cref="IObjectFiles.Open"/>, unless fault injection chooses this fd creation to fail (ENOMEM, nothing opened).</summary>
    public static Errno OpenFile(this IObjectFiles files, object target, Action onLastClose, out int fd)
    {
        fd = -1;
        var rc = FailNth.Check(FaultSite.FileOpen);
        return rc != Errno.Ok ? rc : files.Open(target, onLastClose, out fd);
    }
}

/// <summary>An in-memory descriptor table for embedders and tests: numbers start at 1000; <see cref="Close"/> closes.</summary>
public sealed class SimulatedObjectFiles : IObjectFiles
{
    private readonly Lock _lock = new();
    private readonly Dictionary<int, (object Target, Action OnClose)> _open = [];
    private int _next = 1000;

    public Errno Open(object target, Action onLastClose, out int fd)
    {
        lock (_lock)
        {
            fd = _next++;
            _open[fd] = (target, onLastClose);
        }
        return Errno.Ok;
    }

    public object? Lookup(int fd)
    {
        lock (_lock)
            return _open.TryGetValue(fd, out var entry) ? entry.Target : null;
    }

    /// <summary>Closes a descriptor: EBADF when it is not open.</summary>
    public Errno Close(int fd)
    {
        Action onClose;
        lock (_lock)
        {
            if (!_open.Remove(fd, out var entry))
                return Errno.EBADF;
            onClose = entry.OnClose;
        }
        onClose();
        return Errno.Ok;
    }

    private readonly HashSet<object> _readable = new(ReferenceEqualityComparer.Instance);

    public void SetReadable(object target, bool readable)
    {
        lock (_lock)
        {
            if (readable)
                _readable.Add(target);
            else
                _readable.Remove(target);
        }
    }

    /// <summary>Whether <paramref name="fd"/> would poll readable (POLLIN).</summary>
    public bool IsReadable(int fd)
    {
        lock (_lock)
            return _open.TryGetValue(fd, out var entry) && _readable.Contains(entry.Target);
    }

    public int OpenCount
    {
        get
        {
            lock (_lock)
                return _open.Count;
        }
    }
}
