using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>Accesses: creating one on an IOAS, moving it to another, and closing it.</summary>
public sealed partial class IommufdContext
{
    /// <summary>
    /// Creates an access attached to <paramref name="ioasId"/>. Its ID is internal (the kernel never
    /// reports it); the owner keeps it alive until <see cref="CloseAccess"/>. ENOENT for an unknown
    /// IOAS, EADDRINUSE when existing mappings do not meet a pinning access's page alignment.
    /// </summary>
    public Errno CreateAccess(IoasId ioasId, bool needsPinPages, IAccessUser user, out Access access)
    {
        access = new Access(this, needsPinPages, user);
        using var pending = Objects.Reserve(access);
        if (!pending.Reserved)
            return pending.Status;
        using var ioas = Objects.Hold<Ioas>(ioasId);
        if (!ioas.Held)
            return ioas.Status;
        var rc = ioas.Value.PageTable.AddAccess(access);
        if (rc != Errno.Ok)
            return rc;
        Objects.AddUser(ioas.Value);
        access.Ioas = ioas.Value;
        // The owner (its fd) is a user until CloseAccess.
        Objects.AddUser(access);
        pending.Publish();
        return Errno.Ok;
    }

    /// <summary>
    /// Moves an access to another IOAS; its owner is told to drop every pin first. ENOENT when the
    /// access is detached or the IOAS unknown; the same IOAS is a no-op.
    /// </summary>
    public Errno ReplaceAccessIoas(Access access, IoasId ioasId)
    {
        if (access.Ioas is not { } current)
            return Errno.ENOENT;
        using var target = Objects.Hold<Ioas>(ioasId);
        if (!target.Held)
            return target.Status;
        if (ReferenceEquals(current, target.Value))
            return Errno.Ok;
        var rc = target.Value.PageTable.AddAccess(access);
        if (rc != Errno.Ok)
            return rc;
        access.User.Unmap(access, 0, ulong.MaxValue);
        current.PageTable.RemoveAccess(access);
        Objects.AddUser(target.Value);
        access.Ioas = target.Value;
        Objects.RemoveUser(current);
        return Errno.Ok;
    }

    /// <summary>The owner is done with the access (closing its file): pins are dropped and it is destroyed.</summary>
    public void CloseAccess(Access access)
    {
        Objects.RemoveUser(access);
        Objects.Destroy(access.Id);
    }

    internal void DetachAccess(Access access)
    {
        if (access.Ioas is not { } ioas)
            return;
        access.User.Unmap(access, 0, ulong.MaxValue);
        ioas.PageTable.RemoveAccess(access);
        access.Ioas = null;
        Objects.RemoveUser(ioas);
    }
}
