namespace IommuFd.Core.Dma;

/// <summary>
/// A paging domain device DMA can be translated through: attached directly, or as the stage 2 of
/// a nested domain. A format plugs in here by walking its own tables.
/// </summary>
public interface IDmaTranslatable
{
    /// <summary>The domain's identity in IOTLBs; the domain invalidates through it on every unmap.</summary>
    DmaCacheTag CacheTag { get; }

    /// <summary>
    /// Whether a write must walk again through an entry cached by a read, so the walk can set the
    /// format's dirty state (true while dirty tracking is on), as hardware does for a clean TLB entry.
    /// </summary>
    bool TracksDirty { get; }

    /// <summary>
    /// Walks the tables for <paramref name="iova"/>: false when no leaf translates it. A walk for a
    /// write sets the format's accessed/dirty state where the format has one and tracking is on.
    /// </summary>
    bool Walk(ulong iova, DmaDirection direction, out DmaTranslation translation);
}
