using IommuFd.Core.Domains;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core.Objects;

/// <summary>
/// A nested hardware page table (IOMMUFD_OBJ_HWPT_NESTED): a guest-owned stage-1 table whose
/// output goes through its paging parent, so DMA reaches what the parent's IOAS maps. It uses
/// its parent (which then cannot be destroyed) from creation; attached devices use it.
/// </summary>
public sealed class HwptNested : Hwpt
{
    internal HwptNested(IommufdContext context, HwptPaging parent, INestedDomain domain, Viommu? viommu = null)
        : base(context, parent.Driver)
    {
        Parent = parent;
        Domain = domain;
        Viommu = viommu;
        context.Objects.AddUser(parent);
        if (viommu is not null)
            context.Objects.AddUser(viommu);
    }

    /// <summary>The vIOMMU it was made on (then a device attaches only through its vDEVICE there), or null.</summary>
    public Viommu? Viommu { get; }

    public override ObjectKind Kind => ObjectKind.HwptNested;

    public HwptPaging Parent { get; }

    public INestedDomain Domain { get; }

    public override Ioas Ioas => Parent.Ioas;

    public override IIommuDomain AttachDomain => Domain;

    protected internal override void OnDestroy()
    {
        Context.Objects.RemoveUser(Parent);
        if (Viommu is not null)
            Context.Objects.RemoveUser(Viommu);
        base.OnDestroy();
    }
}
