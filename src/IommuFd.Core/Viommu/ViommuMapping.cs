namespace IommuFd.Core.VirtualIommu;

/// <summary>
/// A mapping of a vIOMMU's mmap region (mmap of the iommufd fd at its offset). While it exists
/// the vIOMMU has a user, so DESTROY is EBUSY, as the kernel's vma keeps its owner. Disposing
/// (munmap) lets go, once.
/// </summary>
public sealed class ViommuMapping : IDisposable
{
    private int _released;

    internal ViommuMapping(Viommu viommu, ViommuMmapRegion region)
    {
        Viommu = viommu;
        Region = region;
    }

    public Viommu Viommu { get; }

    public ViommuMmapRegion Region { get; }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0)
            Viommu.Context.Objects.RemoveUser(Viommu);
    }
}
