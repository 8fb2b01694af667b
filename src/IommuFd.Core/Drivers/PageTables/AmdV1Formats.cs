namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// AMD v1 formats: the two the mock driver offers (growing top, as the kernel's selftest uses them) and the
/// host page tables of real AMD IOMMUs (<see cref="Host"/>: fixed levels chosen by address width).
/// </summary>
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

    /// <summary>
    /// Every page size a host table offers: each power of two from 4 KiB up to what the walk and the 52-bit output
    /// hold, except 512 GiB, which Linux never offers on AMD (a hardware erratum).
    /// </summary>
    public static ulong HostPageSizes(int inputBits) => SizesFrom(12, Math.Min(inputBits, 52) - 1) & ~(1UL << 39);

    /// <summary>Real AMD v1 host table, 3 levels (DTE mode 3), 39-bit IOVA, all page sizes.</summary>
    public static PageTableFormat<AmdV1PteCodec> Host3Level { get; } = CreateHost(3);

    /// <summary>Real AMD v1 host table, 4 levels (DTE mode 4), 48-bit IOVA, all page sizes.</summary>
    public static PageTableFormat<AmdV1PteCodec> Host4Level { get; } = CreateHost(4);

    /// <summary>Real AMD v1 host table, 5 levels (DTE mode 5), 57-bit IOVA.</summary>
    public static PageTableFormat<AmdV1PteCodec> Host5Level { get; } = CreateHost(5);

    /// <summary>Real AMD v1 host table, 6 levels (DTE mode 6), the whole 64-bit IOVA space.</summary>
    public static PageTableFormat<AmdV1PteCodec> Host6Level { get; } = CreateHost(6);

    /// <summary>
    /// The host format for an IOVA width: the DTE mode (number of levels) is the smallest that covers it,
    /// 3 levels for 39 bits, 4 for 48, 5 for 57, 6 for 64.
    /// </summary>
    public static PageTableFormat<AmdV1PteCodec> Host(int addressWidth) => addressWidth switch
    {
        > 64 or < 21 => throw new ArgumentOutOfRangeException(nameof(addressWidth), addressWidth, "AMD v1 walks 21 to 64 bits"),
        <= 39 => Host3Level,
        <= 48 => Host4Level,
        <= 57 => Host5Level,
        _ => Host6Level,
    };

    private static PageTableFormat<AmdV1PteCodec> CreateHost(int levels)
    {
        var inputBits = Math.Min(64, 12 + 9 * levels);
        return PageTableFormat<AmdV1PteCodec>.Fixed($"amdv1-mode{levels}", 12, inputBits, 52, HostPageSizes(inputBits), new AmdV1PteCodec(12));
    }

    /// <summary>Bits <paramref name="lowLog2"/>..<paramref name="highLog2"/> set.</summary>
    public static ulong SizesFrom(int lowLog2, int highLog2) => ((2UL << highLog2) - 1) & ~((1UL << lowLog2) - 1);
}
