namespace IommuFd.Core;

/// <summary>Permissions of an IOVA mapping, with the kernel's IOMMU_READ/WRITE/CACHE bit values.</summary>
[Flags]
public enum IoProt
{
    /// <summary>No access.</summary>
    None = 0,
    /// <summary>The device may read.</summary>
    Read = 1,
    /// <summary>The device may write.</summary>
    Write = 2,
    /// <summary>Cache-coherent DMA (IOMMU_CACHE).</summary>
    Cache = 4,
}
