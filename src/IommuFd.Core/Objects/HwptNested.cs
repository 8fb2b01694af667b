using IommuFd.Core.Domains;

namespace IommuFd.Core.Objects;

/// <summary>
/// A nested hardware page table (IOMMUFD_OBJ_HWPT_NESTED): a guest-owned stage-1 table whose
/// output goes through its paging parent, so DMA reaches what the parent's IOAS maps. It holds
/// its parent (which then cannot be destroyed); attached devices hold it.
/// </summary>
public sealed class HwptNested : Hwpt
{
    internal HwptNested(HwptPaging parent, INestedDomain domain)
        : base(parent.Driver)
    {
        Parent = parent;
        Domain = domain;
    }

    public override ObjectKind Kind => ObjectKind.HwptNested;

    public HwptPaging Parent { get; }

    public INestedDomain Domain { get; }

    public override Ioas Ioas => Parent.Ioas;

    public override IIommuDomain AttachDomain => Domain;
}
