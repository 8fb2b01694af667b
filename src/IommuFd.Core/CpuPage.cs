namespace IommuFd.Core;

/// <summary>
/// The CPU page the software copy is kept in. The engine models an x86-64/arm64 4 KiB host
/// regardless of where it runs, so results are the same on every machine.
/// </summary>
public static class CpuPage
{
    public const int Shift = 12;
    public const ulong Size = 1UL << Shift;
    public const ulong Mask = Size - 1;

    /// <summary>A transparent huge page (PMD size on x86-64): the cap on automatic IOVA alignment.</summary>
    public const ulong HugeSize = 2UL << 20;

    public static ulong AlignDown(ulong value) => value & ~Mask;

    public static ulong Offset(ulong value) => value & Mask;

    public static ulong Index(ulong value) => value >> Shift;
}
