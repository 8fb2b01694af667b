using IommuFd.Core.Domains;
using IommuFd.Core.Memory;

namespace IommuFd.Core.Dma;

/// <summary>
/// Translates one address of a device request through its attachment and the IOMMU's IOTLB:
/// a hit is used as is (stale or not, as hardware would); a miss walks the domain and caches the
/// page. Permissions are the caller's to check against <see cref="IotlbEntry.Prot"/>.
/// </summary>
internal sealed class DmaTranslator(Iotlb iotlb, IUserMemory memory)
{
    public Iotlb Iotlb { get; } = iotlb;

    /// <summary>
    /// The IOTLB entry translating <paramref name="iova"/>, or false with the reason and the stage
    /// that said no (see <see cref="DmaFault.Stage"/>).
    /// </summary>
    public bool Translate(IIommuDomain? domain, uint pasid, ulong iova, DmaDirection direction, out IotlbEntry entry, out DmaFaultReason reason, out int stage) =>
        Translate(domain, pasid, iova, direction, lookedUp: false, out entry, out reason, out stage);

    /// <summary>
    /// The tag the IOTLB keys this attachment's entries by, for a caller that looks up hits itself
    /// (once per page, without the dispatch below) and calls <see cref="Translate(IIommuDomain?, uint, ulong, DmaDirection, bool, out IotlbEntry, out DmaFaultReason, out int)"/> only on a miss.
    /// </summary>
    public static bool TryGetCacheTag(IIommuDomain? domain, uint pasid, out uint tag)
    {
        switch (domain)
        {
            case IDmaTranslatable paging when pasid == Iotlb.NoPasid:
                tag = paging.CacheTag.Value;
                return true;
            case IDmaNestedTranslatable nested:
                tag = nested.CacheTag.Value;
                return true;
            default:
                tag = 0;
                return false;
        }
    }

    /// <summary>Like the public overload; <paramref name="lookedUp"/>: the caller already missed in the IOTLB for this page.</summary>
    public bool Translate(IIommuDomain? domain, uint pasid, ulong iova, DmaDirection direction, bool lookedUp, out IotlbEntry entry, out DmaFaultReason reason, out int stage)
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
                return TranslatePaging(paging, iova, direction, lookedUp, out entry) || Fail(DmaFaultReason.NotMapped, 2, out entry, out reason, out stage);
            case IDmaNestedTranslatable nested:
                return TranslateNested(nested, pasid, iova, direction, lookedUp, out entry, out reason, out stage);
            default:
                return Fail(DmaFaultReason.Untranslatable, 0, out entry, out reason, out stage);
        }
    }

    private bool TranslatePaging(IDmaTranslatable paging, ulong iova, DmaDirection direction, bool lookedUp, out IotlbEntry entry)
    {
        var tag = paging.CacheTag;
        entry = default;
        if (!lookedUp && Iotlb.TryLookup(tag.Value, Iotlb.NoPasid, iova, out entry) && (direction == DmaDirection.Read || entry.Dirty))
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

    /// <summary>
    /// Stage 1 to a stage-2 input address, then stage 2; the IOTLB caches the combined page (the
    /// smaller of the two leaves) under the nested domain's tag and PASID, remembering the stage-2
    /// input it came through so a parent unmap drops it.
    /// </summary>
    private bool TranslateNested(IDmaNestedTranslatable nested, uint pasid, ulong iova, DmaDirection direction, bool lookedUp, out IotlbEntry entry, out DmaFaultReason reason, out int stage)
    {
        var tag = nested.CacheTag;
        var parent = nested.StageTwo;
        reason = default;
        stage = 0;
        entry = default;
        if (!lookedUp && Iotlb.TryLookup(tag.Value, pasid, iova, out entry) && (direction == DmaDirection.Read || entry.Dirty))
            return true;
        tag.Register(Iotlb);
        parent.CacheTag.Register(Iotlb);
        var generation = tag.Generation;
        var parentGeneration = parent.CacheTag.Generation;
        switch (nested.WalkStageOne(pasid, iova, direction, new StageTwoTables(parent, memory), out var first))
        {
            case StageOneWalk.Ok:
                break;
            case StageOneWalk.NoContext:
                return Fail(DmaFaultReason.PasidNotAttached, 1, out entry, out reason, out stage);
            case StageOneWalk.TableNotMapped:
                return Fail(DmaFaultReason.StageOneTableNotMapped, 2, out entry, out reason, out stage);
            default:
                return Fail(DmaFaultReason.NotMapped, 1, out entry, out reason, out stage);
        }
        var middle = first.OutputBase + (iova & (first.Size - 1));
        if (!parent.Walk(middle, direction, out var second))
            return Fail(DmaFaultReason.NotMapped, 2, out entry, out reason, out stage);
        var sizeLog2 = Math.Min(first.SizeLog2, second.SizeLog2);
        var mask = (1UL << sizeLog2) - 1;
        var output = second.OutputBase + (middle & (second.Size - 1));
        entry = new IotlbEntry(output & ~mask, sizeLog2, first.Prot & second.Prot, parent.CacheTag.Value, middle & ~mask, second.Prot,
            Dirty: direction == DmaDirection.Write || !parent.TracksDirty);
        Iotlb.InsertIfCurrent(tag.Value, pasid, iova, entry, tag, generation, parent.CacheTag, parentGeneration);
        return true;
    }

    /// <summary>Stage-1 table reads: stage 2 must allow reading the entry's address.</summary>
    private sealed class StageTwoTables(IDmaTranslatable parent, IUserMemory memory) : IStageOneTables
    {
        public bool TryReadEntry(ulong address, out ulong entry)
        {
            entry = 0;
            if (!parent.Walk(address, DmaDirection.Read, out var t) || (t.Prot & IoProt.Read) == 0)
                return false;
            Span<byte> bytes = stackalloc byte[8];
            if (memory.Read(t.OutputBase + (address & (t.Size - 1)), bytes) != Errno.Ok)
                return false;
            entry = System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes);
            return true;
        }
    }

    private static bool Fail(DmaFaultReason why, int which, out IotlbEntry entry, out DmaFaultReason reason, out int stage)
    {
        entry = default;
        reason = why;
        stage = which;
        return false;
    }
}
