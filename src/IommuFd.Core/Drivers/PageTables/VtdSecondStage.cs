namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// VT-d second-stage formats by address width (the SAGAW levels a context / PASID entry selects):
/// 4 KiB granule, 52-bit output, 4 KiB / 2 MiB / 1 GiB leaves. A driver whose hardware lacks 1 GiB
/// pages (CAP_REG.SLLPS) passes a smaller page-size set to <see cref="RadixPageTable{TCodec}"/>.
/// </summary>
public static class VtdSecondStage
{
    public const ulong PageSizes = (1UL << 12) | (1UL << 21) | (1UL << 30);

    /// <summary>3-level, 39-bit IOVA.</summary>
    public static PageTableFormat<VtdSecondStagePteCodec> ThreeLevel { get; } = Create(39);

    /// <summary>4-level, 48-bit IOVA.</summary>
    public static PageTableFormat<VtdSecondStagePteCodec> FourLevel { get; } = Create(48);

    /// <summary>5-level, 57-bit IOVA.</summary>
    public static PageTableFormat<VtdSecondStagePteCodec> FiveLevel { get; } = Create(57);

    /// <summary>The format for an adjusted guest address width of 39, 48 or 57 bits.</summary>
    public static PageTableFormat<VtdSecondStagePteCodec> ForAddressWidth(int bits) => bits switch
    {
        39 => ThreeLevel,
        48 => FourLevel,
        57 => FiveLevel,
        _ => throw new ArgumentOutOfRangeException(nameof(bits), bits, "VT-d second stage walks 39, 48 or 57 bits"),
    };

    private static PageTableFormat<VtdSecondStagePteCodec> Create(int inputBits) =>
        PageTableFormat<VtdSecondStagePteCodec>.Fixed($"vtd-ss-{(inputBits - 12) / 9}level", 12, inputBits, 52, PageSizes, default);
}
