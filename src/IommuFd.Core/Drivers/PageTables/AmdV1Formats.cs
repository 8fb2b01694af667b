namespace IommuFd.Core.Drivers.PageTables;

/// <summary>The two AMD v1 style formats the mock driver offers.</summary>
public static class AmdV1Formats
{
    /// <summary>
    /// The selftest's "mock" variant: 2 KiB tables of 256 entries, 56-bit IOVA (6 levels at most,
    /// starting with 3), 51-bit output. Leaves of every power of two from 2 KiB to 16 GiB: natural
    /// sizes 2 KiB / 512 KiB / 128 MiB, the ones between as size-coded runs.
    /// </summary>
    public static PageTableFormat<AmdV1PteCodec> Mock2K { get; } =
        new("amdv1-mock-2k", granuleShift: 11, inputBits: 56, outputBits: 51, startLevels: 3,
            leafSizes: SizesFrom(11, 34), new AmdV1PteCodec(11));

    /// <summary>
    /// Real AMD v1: 4 KiB tables of 512 entries, 64-bit IOVA (6 levels at most, starting with 3),
    /// 52-bit output. Leaves of every power of two from 4 KiB to 1 GiB: natural 4 KiB / 2 MiB / 1 GiB,
    /// the ones between as size-coded runs. Larger AMD pages are not offered.
    /// </summary>
    public static PageTableFormat<AmdV1PteCodec> Standard4K { get; } =
        new("amdv1-4k", granuleShift: 12, inputBits: 64, outputBits: 52, startLevels: 3,
            leafSizes: SizesFrom(12, 30), new AmdV1PteCodec(12));

    /// <summary>Bits <paramref name="lowLog2"/>..<paramref name="highLog2"/> set.</summary>
    public static ulong SizesFrom(int lowLog2, int highLog2) => ((2UL << highLog2) - 1) & ~((1UL << lowLog2) - 1);
}
