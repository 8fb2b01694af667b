namespace IommuFd.Core;

/// <summary>
/// An inclusive interval of IO virtual addresses. <c>Last</c> is inclusive so the whole
/// 64-bit space (0..ulong.MaxValue) is representable; every <c>Last + 1</c> must be checked.
/// </summary>
public readonly record struct IovaRange(ulong Start, ulong Last)
{
    /// <summary>The whole 64-bit IOVA space.</summary>
    public static readonly IovaRange Everything = new(0, ulong.MaxValue);

    /// <summary>Builds a range from a start and a non-zero length; false when it would wrap.</summary>
    public static bool TryFromLength(ulong start, ulong length, out IovaRange range)
    {
        range = default;
        if (length == 0 || start > ulong.MaxValue - (length - 1))
            return false;
        range = new IovaRange(start, start + (length - 1));
        return true;
    }

    /// <summary>
    /// The rule every (start, length) request follows: a zero length is EINVAL, one that would wrap
    /// past the top of the 64-bit space EOVERFLOW.
    /// </summary>
    public static Errno FromLength(ulong start, ulong length, out IovaRange range)
    {
        if (length == 0)
        {
            range = default;
            return Errno.EINVAL;
        }
        return TryFromLength(start, length, out range) ? Errno.Ok : Errno.EOVERFLOW;
    }

    /// <summary>Length in bytes; saturates at ulong.MaxValue for the full 64-bit space.</summary>
    public ulong Length => Last - Start == ulong.MaxValue ? ulong.MaxValue : Last - Start + 1;

    /// <summary>True when <paramref name="iova"/> lies in the range.</summary>
    public bool Contains(ulong iova) => iova >= Start && iova <= Last;

    /// <summary>True when all of <paramref name="other"/> lies in the range.</summary>
    public bool Contains(IovaRange other) => other.Start >= Start && other.Last <= Last;

    /// <summary>True when the ranges share at least one address.</summary>
    public bool Intersects(IovaRange other) => other.Start <= Last && other.Last >= Start;

    /// <summary>The range as <c>[0xstart, 0xlast]</c>.</summary>
    public override string ToString() => $"[0x{Start:x}, 0x{Last:x}]";
}
