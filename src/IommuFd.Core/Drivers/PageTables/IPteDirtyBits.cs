namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// Where a format keeps the hardware dirty bit of a leaf: set by the IOMMU when a device writes
/// through the leaf while dirty tracking is on, read and cleared by software. Static so a walker
/// specialised for the format inlines every test.
/// </summary>
public interface IPteDirtyBits
{
    static abstract bool IsDirty(ulong pte);

    static abstract ulong SetDirty(ulong pte);

    static abstract ulong ClearDirty(ulong pte);
}
