using System.Diagnostics;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers;

namespace IommuFd.Core.Objects;

/// <summary>
/// A kernel-managed hardware page table (IOMMUFD_OBJ_HWPT_PAGING): a domain kept equal to its
/// IOAS's software copy. It uses its IOAS; attached devices use it. An automatic one (created
/// by attaching a device to an IOAS) disappears with its last device.
/// </summary>
public sealed class HwptPaging : Hwpt
{
    /// <summary>Whether the domain was filled from the IOAS (and the IOAS counts this HWPT as a user).</summary>
    private bool _mirroring;

    internal HwptPaging(IommufdContext context, Ioas ioas, IIoDomain domain, IIommuDriver driver, HwptAllocFlags flags, bool autoDomain)
        : base(context, driver)
    {
        Ioas = ioas;
        Domain = domain;
        Flags = flags;
        AutoDomain = autoDomain;
    }

    public override ObjectKind Kind => ObjectKind.HwptPaging;

    public override Ioas Ioas { get; }

    public IIoDomain Domain { get; }

    public override IIommuDomain AttachDomain => Domain;

    public HwptAllocFlags Flags { get; }

    public bool AutoDomain { get; }

    /// <summary>Whether nested HWPTs may be built on it (allocated with NEST_PARENT).</summary>
    public bool NestParent => Flags.HasFlag(HwptAllocFlags.NestParent);

    /// <summary>
    /// Fills the domain from the IOAS and joins the IOAS's HWPT list, using the IOAS. Fails, with
    /// nothing changed, when the IOAS refuses the domain. Needs the context's attach lock.
    /// </summary>
    internal Errno MirrorIoasLocked()
    {
        Debug.Assert(Context.AttachLock.IsHeldByCurrentThread);
        var rc = Ioas.PageTable.AddDomain(Domain);
        if (rc != Errno.Ok)
            return rc;
        Context.Objects.AddUser(Ioas);
        Ioas.Hwpts.Add(this);
        _mirroring = true;
        return Errno.Ok;
    }

    protected internal override void OnDestroy()
    {
        if (_mirroring)
        {
            lock (Context.AttachLock)
                Ioas.Hwpts.Remove(this);
            Ioas.PageTable.RemoveDomain(Domain);
            Context.Objects.RemoveUser(Ioas);
        }
        base.OnDestroy();
    }
}
