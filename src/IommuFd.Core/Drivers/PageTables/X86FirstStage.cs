namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// x86-64 first-stage formats: 4-level (48-bit, CR4.LA57 clear) and 5-level (57-bit), 4 KiB / 2 MiB / 1 GiB
/// leaves, 52-bit output. The walk indexes the low 48 / 57 bits; a driver limits its aperture to the lower
/// canonical half (bit 47 / 56 clear), as Linux does for first-stage domains.
/// </summary>
public static class X86FirstStage
{
    public const ulong PageSizes = (1UL << 12) | (1UL << 21) | (1UL << 30);

    public static PageTableFormat<X86FirstStagePteCodec> FourLevel { get; } =
        PageTableFormat<X86FirstStagePteCodec>.Fixed("x86-fs-4level", 12, 48, 52, PageSizes, default);

    public static PageTableFormat<X86FirstStagePteCodec> FiveLevel { get; } =
        PageTableFormat<X86FirstStagePteCodec>.Fixed("x86-fs-5level", 12, 57, 52, PageSizes, default);
}
