namespace IommuFd.Core.Drivers.Mock;

/// <summary>The selftest's <c>iommu_hwpt_selftest.pagetable_type</c> (MOCK_IOMMUPT_*).</summary>
public enum MockPageTableType
{
    /// <summary>AMD v1 style tables with a 2 KiB granule; aperture narrowed to [16 MiB, 2 GiB − 1].</summary>
    Default = 0,

    /// <summary>The same tables limited to 1 MiB and 4 KiB pages; native aperture.</summary>
    Huge = 1,

    /// <summary>Real AMD v1 (4 KiB granule, 64-bit IOVA); native aperture.</summary>
    AmdV1 = 2,
}
