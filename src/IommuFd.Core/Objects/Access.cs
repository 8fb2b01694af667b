using IommuFd.Core.AddressSpace;

namespace IommuFd.Core.Objects;

/// <summary>What owns an access and must drop its pins when the user unmaps them.</summary>
public interface IAccessUser
{
    /// <summary>Release every pin of <paramref name="access"/> overlapping [iova, iova+length).</summary>
    void Unmap(Access access, ulong iova, ulong length);
}

/// <summary>
/// An access (IOMMUFD_OBJ_ACCESS): a device with no IOMMU of its own that reads, writes and pins
/// memory through an IOAS, as a mediated device does. It holds its IOAS; its owner holds it.
/// </summary>
public sealed class Access : IommufdObject, IIoAccess
{
    private readonly Lock _lock = new();

    internal Access(IommufdContext context, bool needsPinPages, IAccessUser user)
    {
        Context = context;
        NeedsPinPages = needsPinPages;
        User = user;
    }

    public override ObjectKind Kind => ObjectKind.Access;

    public IommufdContext Context { get; }

    public bool NeedsPinPages { get; }

    public IAccessUser User { get; }

    /// <summary>The IOAS the access works through, or null once detached.</summary>
    public Ioas? Ioas { get; internal set; }

    /// <summary>Pinning hands out CPU pages, so IOVAs must be page aligned; byte copies need nothing.</summary>
    public ulong IovaAlignment => NeedsPinPages ? CpuPage.Size : 1;

    void IIoAccess.NotifyUnmap(ulong iova, ulong length) => User.Unmap(this, iova, length);

    /// <summary>Pins [iova, +length): EINVAL unless created to pin, ENOENT when detached, then the page table's rules.</summary>
    public Errno Pin(ulong iova, ulong length, bool write, out AccessPin? pin)
    {
        pin = null;
        if (!NeedsPinPages)
            return Errno.EINVAL;
        var rc = IovaRange.FromLength(iova, length, out _);
        if (rc != Errno.Ok)
            return rc;
        lock (_lock)
        {
            if (Ioas is not { } ioas)
                return Errno.ENOENT;
            return ioas.PageTable.PinForAccess(iova, length, write, out pin);
        }
    }

    public void Unpin(AccessPin pin)
    {
        lock (_lock)
            Ioas?.PageTable.UnpinForAccess(pin);
    }

    public Errno Read(ulong iova, Span<byte> buffer) => ReadWrite(iova, buffer, write: false);

    public Errno Write(ulong iova, Span<byte> buffer) => ReadWrite(iova, buffer, write: true);

    private Errno ReadWrite(ulong iova, Span<byte> buffer, bool write)
    {
        var rc = IovaRange.FromLength(iova, (ulong)buffer.Length, out _);
        if (rc != Errno.Ok)
            return rc;
        var ioas = Ioas;
        return ioas is null ? Errno.ENOENT : ioas.PageTable.AccessReadWrite(iova, buffer, write);
    }

    protected internal override void OnDestroy() => Context.DetachAccess(this);
}
