using IommuFd.Core;
using IommuFd.Core.Objects;

namespace IommuFd.Native;

/// <summary>
/// Object fds backed by real kernel fds the preload shim makes (iommufd_emu.h: open_object_fd),
/// so the program can close, dup and poll them like the kernel's. The shim names each by a cookie,
/// passes read()/write() on it to iommufd_emu_object_read/write (<see cref="Find"/>) and reports
/// its last close through iommufd_emu_release_object (<see cref="Release"/>).
/// </summary>
/// <remarks>
/// Cookies carry the engine epoch in bits 48-62 (as context handles do): an object fd inherited
/// across fork() names the parent's object, never one of a child's. Each object fd also keeps the
/// context it was created from open (the shim holds a reference), as the kernel's access fd does.
/// </remarks>
internal sealed unsafe class ShimObjectFiles(HostCallbacks* host, int epoch) : IObjectFiles
{
    private const ulong SerialMask = (1UL << 48) - 1;

    private readonly delegate* unmanaged<long, ulong, int> _openFd = host->OpenObjectFd;
    private readonly delegate* unmanaged<int, long> _lookupFd = host->LookupObjectFd;
    private readonly delegate* unmanaged<int, int> _closeFd = host->CloseFd;
    private readonly ulong _epochBits = (ulong)epoch << 48;
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, (object Target, Action OnLastClose)> _objects = [];
    private ulong _serial;

    /// <summary>Must be called inside an ioctl: the fd holds a reference on that call's context.</summary>
    public Errno Open(object target, Action onLastClose, out int fd)
    {
        fd = -1;
        ulong cookie;
        lock (_lock)
        {
            _serial = (_serial & SerialMask) == SerialMask ? 1 : _serial + 1;
            cookie = _epochBits | _serial;
            _objects[cookie] = (target, onLastClose);
        }
        var context = Volatile.Read(ref CallGate.Slot().Current); // the handle being served
        var rc = _openFd(context, cookie);
        if (rc < 0)
        {
            lock (_lock)
                _objects.Remove(cookie);
            return (Errno)(-rc);
        }
        fd = rc;
        return Errno.Ok;
    }

    public object? Lookup(int fd)
    {
        var cookie = _lookupFd(fd);
        return cookie < 0 ? null : Find((ulong)cookie);
    }

    /// <summary>The object behind <paramref name="cookie"/>, or null when it is unknown or released.</summary>
    public object? Find(ulong cookie)
    {
        lock (_lock)
            return _objects.TryGetValue(cookie, out var entry) ? entry.Target : null;
    }

    /// <summary>True for a cookie of an earlier epoch: an object fd inherited across fork().</summary>
    public bool IsInherited(ulong cookie) => cookie >> 48 < _epochBits >> 48;

    /// <summary>Closes through the shim (its table must see it); the close action runs on this thread when it was the last fd.</summary>
    public Errno Close(int fd)
    {
        var rc = _closeFd(fd);
        return rc < 0 ? (Errno)(-rc) : Errno.Ok;
    }

    /// <summary>Readiness is not passed to the shim yet: its eventfd reports writable only.</summary>
    public void SetReadable(object target, bool readable)
    {
    }

    /// <summary>The last fd for <paramref name="cookie"/> is gone; unknown cookies (another epoch's) are ignored.</summary>
    public void Release(ulong cookie)
    {
        Action onLastClose;
        lock (_lock)
        {
            if (!_objects.Remove(cookie, out var entry))
                return;
            onLastClose = entry.OnLastClose;
        }
        try
        {
            onLastClose();
        }
        catch
        {
            // Nothing to report to: a close action that failed leaks its object.
        }
    }
}
