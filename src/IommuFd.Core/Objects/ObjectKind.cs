namespace IommuFd.Core.Objects;

/// <summary>The kinds of object a context holds in its one ID space.</summary>
public enum ObjectKind
{
    Ioas,
    Device,
    HwptPaging,
    HwptNested,
    Access,
    Fault,
    Viommu,
    Vdevice,
    Veventq,
    HwQueue,
    Selftest,
}
