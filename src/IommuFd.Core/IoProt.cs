namespace IommuFd.Core;

/// <summary>Permissions of an IOVA mapping, with the kernel's IOMMU_READ/WRITE/CACHE bit values.</summary>
[Flags]
public enum IoProt
{
    None = 0,
    Read = 1,
    Write = 2,
    Cache = 4,
}
