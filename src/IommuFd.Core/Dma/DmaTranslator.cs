using IommuFd.Core.Domains;

namespace IommuFd.Core.Dma;

/// <summary>
/// Translates one address of a device request through its attachment and the IOMMU's IOTLB:
/// a hit is used as is (stale or not, as hardware would); a miss walks the domain and caches the
/// page. Permissions are the caller's to check against <see cref="IotlbEntry.Prot"/>.
/// </summary>
internal sealed class DmaTranslator(Iotlb iotlb)
{
    public Iotlb Iotlb { get; } = iotlb;

    /// <summary>
    /// The IOTLB entry translating <paramref name="iova"/>, or false with the reason and the stage
    /// that said no (see <see cref="DmaFault.Stage"/>).
    /// </summary>
    public bool Translate(IIommuDomain? domain, uint pasid, ulong iova, DmaDirection direction, out IotlbEntry entry, out DmaFaultReason reason, out int stage)
    {
        switch (domain)
        {
            case null:
                return Fail(DmaFaultReason.Blocked, 0, out entry, out reason, out stage);
            case IDmaTranslatable paging:
                if (pasid != Iotlb.NoPasid)
                    return Fail(DmaFaultReason.PasidNotAttached, 0, out entry, out reason, out stage);
                reason = default;
                stage = 2;
                return TranslatePaging(paging, iova, direction, out entry) || Fail(DmaFaultReason.NotMapped, 2, out entry, out reason, out stage);
            default:
                return Fail(DmaFaultReason.Untranslatable, 0, out entry, out reason, out stage);
        }
    }

    private bool TranslatePaging(IDmaTranslatable paging, ulong iova, DmaDirection direction, out IotlbEntry entry)
    {
        var tag = paging.CacheTag;
        if (Iotlb.TryLookup(tag.Value, Iotlb.NoPasid, iova, out entry) && (direction == DmaDirection.Read || entry.Dirty))
            return true;
        tag.Register(Iotlb);
        var generation = tag.Generation;
        if (!paging.Walk(iova, direction, out var t))
            return false;
        var pageBase = iova & ~(t.Size - 1);
        entry = new IotlbEntry(t.OutputBase, t.SizeLog2, t.Prot, tag.Value, pageBase, t.Prot,
            Dirty: direction == DmaDirection.Write || !paging.TracksDirty);
        Iotlb.InsertIfCurrent(tag.Value, Iotlb.NoPasid, iova, entry, tag, generation);
        return true;
    }

    private static bool Fail(DmaFaultReason why, int which, out IotlbEntry entry, out DmaFaultReason reason, out int stage)
    {
        entry = default;
        reason = why;
        stage = which;
        return false;
    }
}
