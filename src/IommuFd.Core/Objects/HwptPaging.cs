using IommuFd.Core.Domains;
using IommuFd.Core.Drivers;

namespace IommuFd.Core.Objects;

/// <summary>
/// A kernel-managed hardware page table (IOMMUFD_OBJ_HWPT_PAGING): a domain kept equal to its
/// IOAS's software copy. It holds its IOAS; attached devices hold it. An automatic one (created
/// by attaching a device to an IOAS) disappears with its last device.
/// </summary>
public sealed class HwptPaging : IommufdObject
{
    internal HwptPaging(Ioas ioas, IIoDomain domain, IIommuDriver driver, HwptAllocFlags flags, bool autoDomain)
    {
        Ioas = ioas;
        Domain = domain;
        Driver = driver;
        Flags = flags;
        AutoDomain = autoDomain;
    }

    public override ObjectKind Kind => ObjectKind.HwptPaging;

    public Ioas Ioas { get; }

    public IIoDomain Domain { get; }

    public IIommuDriver Driver { get; }

    public HwptAllocFlags Flags { get; }

    public bool AutoDomain { get; }

    public HwptId TypedId => new(Id.Value);

    /// <summary>Set by the context: removes the domain from the IOAS and releases the IOAS.</summary>
    internal Action? Teardown;

    protected internal override void OnDestroy() => Teardown?.Invoke();
}
