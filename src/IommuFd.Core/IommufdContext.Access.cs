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
        var rc = Objects.Reserve(access);
        if (rc != Errno.Ok)
            return rc;
        rc = Objects.TryHold<Ioas>(ioasId, out var ioas);
        if (rc != Errno.Ok)
        {
            Objects.Abort(access);
            return rc;
        }
        try
        {
            rc = ioas.PageTable.AddAccess(access);
            if (rc != Errno.Ok)
            {
                Objects.Abort(access);
                return rc;
            }
            Objects.AddUser(ioas);
            access.Ioas = ioas;
            Objects.AddUser(access);
            Objects.Publish(access);
            return Errno.Ok;
        }
        finally
        {
            Objects.Release(ioas);
        }
    }

    /// <summary>
    /// Moves an access to another IOAS; its owner is told to drop every pin first. ENOENT when the
    /// access is detached or the IOAS unknown; the same IOAS is a no-op.
    /// </summary>
    public Errno ReplaceAccessIoas(Access access, IoasId ioasId)
    {
        if (access.Ioas is not { } current)
            return Errno.ENOENT;
        var rc = Objects.TryHold<Ioas>(ioasId, out var target);
        if (rc != Errno.Ok)
            return rc;
        try
        {
            if (ReferenceEquals(current, target))
                return Errno.Ok;
            rc = target.PageTable.AddAccess(access);
            if (rc != Errno.Ok)
                return rc;
            access.User.Unmap(access, 0, ulong.MaxValue);
            current.PageTable.RemoveAccess(access);
            Objects.AddUser(target);
            access.Ioas = target;
            Objects.RemoveUser(current);
            return Errno.Ok;
        }
        finally
        {
            Objects.Release(target);
        }
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
