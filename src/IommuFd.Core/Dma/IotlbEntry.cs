namespace IommuFd.Core.Dma;

/// <summary>
/// A cached translation of one page: the page's output base, size and permissions, and where it
/// came from in stage 2 (for a paging domain that is the domain itself and the page's IOVA), so a
/// stage-2 unmap can find the nested entries built on it. <see cref="Prot"/> is what the walk
/// allows in all (stage 1 and stage 2 together); <see cref="StageTwoProt"/> is stage 2's share,
/// so a permission fault can name the stage that refused. <see cref="Dirty"/>: a write already
/// went through this entry (or the domain tracks no dirty state), so writes need no new walk.
/// </summary>
public readonly record struct IotlbEntry(
    ulong OutputBase,
    int SizeLog2,
    IoProt Prot,
    uint StageTwoTag,
    ulong StageTwoInputBase,
    IoProt StageTwoProt,
    bool Dirty)
{
    public ulong Size => 1UL << SizeLog2;
}

/// <summary>What the IOTLB is looked up by, as hardware tags it: domain, PASID, page (number and size).</summary>
internal readonly record struct IotlbKey(uint Tag, uint Pasid, ulong PageNumber, int SizeLog2);
