namespace IommuFd.Core.Dma;

/// <summary>What a stage-1 walk found.</summary>
public enum StageOneWalk
{
    Ok,

    /// <summary>No stage-1 leaf for the address.</summary>
    NotMapped,

    /// <summary>No stage-1 context for the PASID (no table and no bypass).</summary>
    NoContext,

    /// <summary>A table entry's address is not translated by stage 2.</summary>
    TableNotMapped,
}

/// <summary>
/// Reads the stage-1 tables where the hardware reads them: at stage-2 input addresses, translated
/// by the parent and read from the program's memory.
/// </summary>
public interface IStageOneTables
{
    /// <summary>The little-endian 8-byte entry at stage-2 input <paramref name="address"/>; false when stage 2 does not translate it for reading.</summary>
    bool TryReadEntry(ulong address, out ulong entry);
}

/// <summary>
/// A nested (stage-1) domain device DMA can be translated through: stage 1 gives a stage-2 input
/// address, which <see cref="StageTwo"/> (the NEST_PARENT paging domain) translates. Changes the
/// program makes to stage 1 reach devices only through the IOTLB entries it invalidates.
/// </summary>
public interface IDmaNestedTranslatable
{
    DmaCacheTag CacheTag { get; }

    IDmaTranslatable StageTwo { get; }

    /// <summary>
    /// Walks stage 1 for <paramref name="pasid"/> (<see cref="Iotlb.NoPasid"/> for requests without one).
    /// A format whose tables live in program memory reads them through <paramref name="tables"/>.
    /// </summary>
    StageOneWalk WalkStageOne(uint pasid, ulong iova, DmaDirection direction, IStageOneTables tables, out DmaTranslation translation);
}
