using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>
/// The VFIO type1 container model on the compatibility IOAS: v2 never splits a mapping; v1 (an old
/// API nothing new uses) may unmap part of one, which works because choosing v1 turns large pages
/// off, so the domains hold only small entries and an area can be cut anywhere on its alignment.
/// Facts from the kernel's vfio_compat.c; the code is ours.
/// </summary>
public sealed partial class IommufdContext
{
    /// <summary>VFIO_SET_IOMMU with TYPE1 (<paramref name="version2"/> false) or TYPE1v2: ENODEV without a compatibility IOAS.</summary>
    public Errno SetCompatIommu(bool version2)
    {
        var rc = GetCompatIoas(out var ioas);
        if (rc != Errno.Ok || version2)
            return rc;
        return SetHugePages(ioas, false);
    }

    /// <summary>
    /// VFIO_IOMMU_UNMAP_DMA on the compatibility IOAS (ENODEV without one). <paramref name="all"/>
    /// takes everything and needs iova and size 0 (EINVAL). Otherwise, when large pages are off
    /// (type1 v1), the areas are first cut at both ends of the range; then the usual unmap rules apply.
    /// </summary>
    public Errno CompatUnmap(ulong iova, ulong size, bool all, out ulong unmapped)
    {
        unmapped = 0;
        var rc = GetCompatIoas(out var id);
        if (rc != Errno.Ok)
            return rc;
        if (all)
            return iova != 0 || size != 0 ? Errno.EINVAL : Unmap(id, 0, ulong.MaxValue, out unmapped);
        using (var ioas = Objects.Hold<Ioas>(id))
        {
            if (!ioas.Held)
                return ioas.Status;
            var table = ioas.Value.PageTable;
            if (!table.LargePagesEnabled)
            {
                rc = table.CutAfter(iova + size - 1);
                if (rc == Errno.Ok && iova != 0)
                    rc = table.CutAfter(iova - 1);
                if (rc != Errno.Ok)
                    return rc;
            }
        }
        return Unmap(id, iova, size, out unmapped);
    }
}
