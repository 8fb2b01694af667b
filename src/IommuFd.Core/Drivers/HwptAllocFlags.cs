namespace IommuFd.Core.Drivers;

/// <summary>IOMMU_HWPT_ALLOC flags (bit values from the uAPI).</summary>
[Flags]
public enum HwptAllocFlags : uint
{
    None = 0,
    NestParent = 1 << 0,
    DirtyTracking = 1 << 1,
    FaultIdValid = 1 << 2,
    Pasid = 1 << 3,

    Known = NestParent | DirtyTracking | FaultIdValid | Pasid,
}
