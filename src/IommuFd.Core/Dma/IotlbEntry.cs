namespace IommuFd.Core.Dma;

/// <summary>
/// A cached translation of one page: the page's output base, size and permissions, and where it
/// came from in stage 2 (for a paging domain that is the domain itself and the page's IOVA), so a
/// stage-2 unmap can find the nested entries built on it.
/// </summary>
public readonly record struct IotlbEntry(
    ulong OutputBase,
    int SizeLog2,
    IoProt Prot,
    uint StageTwoTag,
    ulong StageTwoInputBase,
    bool Dirty)
{
    public ulong Size => 1UL << SizeLog2;
}

/// <summary>What the IOTLB is looked up by, as hardware tags it: domain, PASID, page (number and size).</summary>
internal readonly record struct IotlbKey(uint Tag, uint Pasid, ulong PageNumber, int SizeLog2);
