using IommuFd.Core;
using IommuFd.Core.Objects;

namespace IommuFd.Native;

/// <summary>
/// Object fds backed by real kernel fds the preload shim makes (iommufd_emu.h: open_object_fd),
/// so the program can close, dup and poll them like the kernel's. The shim names each by a cookie,
/// passes read()/write() on it to iommufd_emu_object_read/write (<see cref="Find"/>), reports
/// its last close through iommufd_emu_release_object (<see cref="Release"/>) and makes it poll
/// readable while its target says so (<see cref="SetReadable"/>, set_object_readable).
/// </summary>
/// <remarks>
/// Cookies carry the engine epoch in bits 48-62 (as context handles do): an object fd inherited
/// across fork() names the parent's object, never one of a child's (Fork/ChildRoute answers for those). Each object fd also keeps the
/// context it was created from open (the shim holds a reference), as the kernel's access fd does.
/// </remarks>
internal sealed unsafe class ShimObjectFiles(HostCallbacks* host, int epoch, CallGate gate) : IObjectFiles
{
    private const ulong SerialMask = (1UL << 48) - 1;

    private readonly delegate* unmanaged<long, ulong, int> _openFd = host->OpenObjectFd;
    private readonly delegate* unmanaged<int, long> _lookupFd = host->LookupObjectFd;
    private readonly delegate* unmanaged<int, int> _closeFd = host->CloseFd;
    private readonly delegate* unmanaged<ulong, int, void> _setReadable = host->SetObjectReadable;
    private readonly ulong _epochBits = (ulong)epoch << ContextTable.EpochShift;
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, (object Target, Action OnLastClose)> _objects = [];

    // The way back from a target to its cookie, for SetReadable; kept with _objects, under _lock.
    private readonly Dictionary<object, Registration> _registrations = new(ReferenceEqualityComparer.Instance);
    private ulong _serial;

    /// <summary>A target's cookie and the readiness it last reported.</summary>
    private sealed class Registration(ulong cookie)
    {
        public ulong Cookie { get; } = cookie;

        public bool Readable { get; set; }
    }

    /// <summary>
    /// Must be called inside an ioctl: the fd holds a reference on that call's context. A target is
    /// opened once (each open names it anew for <see cref="SetReadable"/>).
    /// </summary>
    public Errno Open(object target, Action onLastClose, out int fd)
    {
        fd = -1;
        ulong cookie;
        lock (_lock)
        {
            _serial = (_serial & SerialMask) == SerialMask ? 1 : _serial + 1;
            cookie = _epochBits | _serial;
            _objects[cookie] = (target, onLastClose);
            _registrations[target] = new Registration(cookie);
        }
        var context = gate.CurrentHandle; // the handle being served
        var rc = _openFd(context, cookie);
        lock (_lock)
        {
            if (rc < 0)
            {
                _objects.Remove(cookie);
                Forget(target, cookie);
                return (Errno)(-rc);
            }
            // Readiness reported before the shim had the fd was ignored there: say it again.
            if (_registrations.TryGetValue(target, out var registration) &&
                registration.Cookie == cookie && registration.Readable)
                _setReadable(cookie, 1);
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

    /// <summary>Closes through the shim (its table must see it); the close action runs on this thread when it was the last fd.</summary>
    public Errno Close(int fd)
    {
        var rc = _closeFd(fd);
        return rc < 0 ? (Errno)(-rc) : Errno.Ok;
    }

    /// <summary>
    /// Makes the target's fds poll readable or not.
    /// The shim is told under the lock, so its calls keep the order of the changes, also against
    /// the repeat in <see cref="Open"/>; it never calls back into the engine.
    /// </summary>
    public void SetReadable(object target, bool readable)
    {
        lock (_lock)
        {
            if (!_registrations.TryGetValue(target, out var registration) || registration.Readable == readable)
                return;
            registration.Readable = readable;
            _setReadable(registration.Cookie, readable ? 1 : 0);
        }
    }

    /// <summary>The last fd for <paramref name="cookie"/> is gone; unknown cookies (another epoch's) are ignored.</summary>
    public void Release(ulong cookie)
    {
        Action onLastClose;
        lock (_lock)
        {
            if (!_objects.Remove(cookie, out var entry))
                return;
            Forget(entry.Target, cookie);
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

    /// <summary>Under the lock: drops the target's way back unless a later open renamed it.</summary>
    private void Forget(object target, ulong cookie)
    {
        if (_registrations.TryGetValue(target, out var registration) && registration.Cookie == cookie)
            _registrations.Remove(target);
    }
}
