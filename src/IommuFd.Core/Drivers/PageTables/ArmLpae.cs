namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// Arm VMSAv8-64 formats for SMMU stage 1 and stage 2, 48-bit input and output, fixed levels from the input
/// size (the start level: 4 KiB granule and 48 bits start at level 0). Leaves: 4 KiB granule pages and 2 MiB /
/// 1 GiB blocks; 16 KiB pages and 32 MiB blocks; 64 KiB pages and 512 MiB blocks (larger blocks need 52-bit
/// addressing, not modelled). Not modelled either: the contiguous hint, and stage-2 concatenated start tables
/// (a narrow IPA walks one more level instead).
/// </summary>
public static class ArmLpae
{
    public static PageTableFormat<ArmLpaePteCodec> Stage1_4K { get; } = Create(1, 12, 48);

    public static PageTableFormat<ArmLpaePteCodec> Stage2_4K { get; } = Create(2, 12, 48);

    public static PageTableFormat<ArmLpaePteCodec> Stage1_16K { get; } = Create(1, 14, 48);

    public static PageTableFormat<ArmLpaePteCodec> Stage2_16K { get; } = Create(2, 14, 48);

    public static PageTableFormat<ArmLpaePteCodec> Stage1_64K { get; } = Create(1, 16, 48);

    public static PageTableFormat<ArmLpaePteCodec> Stage2_64K { get; } = Create(2, 16, 48);

    /// <summary>Leaf sizes of a granule: the page and the blocks of the two levels above it.</summary>
    public static ulong PageSizes(int granuleShift) => granuleShift switch
    {
        12 => (1UL << 12) | (1UL << 21) | (1UL << 30),
        14 => (1UL << 14) | (1UL << 25),
        16 => (1UL << 16) | (1UL << 29),
        _ => throw new ArgumentOutOfRangeException(nameof(granuleShift), granuleShift, "granules are 4, 16 and 64 KiB"),
    };

    /// <summary>
    /// A format for <paramref name="inputBits"/> of input (T0SZ = 64 - inputBits, or the stage-2 IPA size);
    /// <paramref name="hardwareDirty"/> writes DBM into writable leaves for hardware dirty tracking.
    /// </summary>
    public static PageTableFormat<ArmLpaePteCodec> Create(int stage, int granuleShift, int inputBits, bool hardwareDirty = false)
    {
        var codec = new ArmLpaePteCodec(stage, granuleShift, hardwareDirty);
        var name = $"arm-s{stage}-{1 << (granuleShift - 10)}k-{inputBits}bit{(hardwareDirty ? "-dbm" : "")}";
        var sizes = PageSizes(granuleShift);
        // A narrow input cannot hold the largest block (its top table would be a single block).
        while (63 - System.Numerics.BitOperations.LeadingZeroCount(sizes) >= inputBits)
            sizes &= ~(1UL << (63 - System.Numerics.BitOperations.LeadingZeroCount(sizes)));
        return PageTableFormat<ArmLpaePteCodec>.Fixed(name, granuleShift, inputBits, 48, sizes, codec);
    }
}
