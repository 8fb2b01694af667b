using IommuFd.Core.Drivers;

namespace IommuFd.Core.Domains;

/// <summary>
/// A stage-1 table owned by the guest, translated through a paging parent (stage 2) that iommufd
/// manages. The engine never maps into it; the guest edits it and then asks for its caches to be
/// invalidated (IOMMU_HWPT_INVALIDATE).
/// </summary>
public interface INestedDomain : IIommuDomain
{
    /// <summary>
    /// Runs the driver's invalidation requests in order, stopping at the first that fails.
    /// <paramref name="handled"/> counts the requests carried out, also on failure.
    /// </summary>
    Errno Invalidate(IDriverArray requests, out uint handled);
}
