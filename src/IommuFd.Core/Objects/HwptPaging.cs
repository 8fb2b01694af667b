using IommuFd.Core.Domains;
using IommuFd.Core.Drivers;

namespace IommuFd.Core.Objects;

/// <summary>
/// A kernel-managed hardware page table (IOMMUFD_OBJ_HWPT_PAGING): a domain kept equal to its
/// IOAS's software copy. It holds its IOAS; attached devices hold it. An automatic one (created
/// by attaching a device to an IOAS) disappears with its last device.
/// </summary>
public sealed class HwptPaging : Hwpt
{
    internal HwptPaging(Ioas ioas, IIoDomain domain, IIommuDriver driver, HwptAllocFlags flags, bool autoDomain)
        : base(driver)
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
}
