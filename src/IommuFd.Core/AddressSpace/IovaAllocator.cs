using System.Numerics;
using IommuFd.Core.Collections;

namespace IommuFd.Core.AddressSpace;

/// <summary>
/// Automatic IOVA allocation: the first hole of a page table's span tree that fits, inside its
/// allowed ranges. Reads only what it is given; the caller holds the page table's lock.
/// </summary>
internal readonly struct IovaAllocator(SpanTree spans, IReadOnlyList<IovaRange> allowed, ulong minimumAlignment)
{
    /// <summary>
    /// Finds free, unreserved IOVA for <paramref name="length"/> bytes. The alignment keeps the user
    /// address's own alignment up to a huge page (so huge pages stay possible) and the page offset; IOVA 0 and the
    /// top page are never handed out. ENOSPC when no hole fits.
    /// </summary>
    public Errno Allocate(ulong userAddress, ulong length, out ulong iova)
    {
        iova = 0;
        if (length == 0 || length >= ulong.MaxValue / 2)
            return Errno.EOVERFLOW;
        var pageOffset = CpuPage.Offset(userAddress);
        var alignment = BitOperations.RoundUpToPowerOf2(length);
        if (userAddress != 0)
            alignment = Math.Min(alignment, 1UL << BitOperations.TrailingZeroCount(userAddress));
        // Beyond a huge page more alignment buys nothing and only wastes IOVA.
        alignment = Math.Min(alignment, CpuPage.HugeSize);
        if (alignment < minimumAlignment)
            return Errno.EINVAL;

        const ulong windowStart = CpuPage.Size;
        const ulong windowLast = ulong.MaxValue - CpuPage.Size;
        foreach (var allowed in AllowedSpans(windowStart, windowLast))
        {
            if (!FitInto(allowed.Start, allowed.Last, length, alignment, pageOffset, out var lo))
                continue;
            if (FindHole(lo, allowed.Last, length, alignment, pageOffset, out iova))
                return Errno.Ok;
        }
        return Errno.ENOSPC;
    }

    /// <summary>Allowed IOVA clipped to the window, adjacent ranges joined; the whole window when none is set.</summary>
    private IEnumerable<IovaRange> AllowedSpans(ulong windowStart, ulong windowLast)
    {
        if (allowed.Count == 0)
        {
            yield return new IovaRange(windowStart, windowLast);
            yield break;
        }
        IovaRange? pending = null;
        foreach (var r in allowed)
        {
            if (r.Last < windowStart || r.Start > windowLast)
                continue;
            var clipped = new IovaRange(Math.Max(r.Start, windowStart), Math.Min(r.Last, windowLast));
            if (pending is { } p && p.Last != ulong.MaxValue && p.Last + 1 == clipped.Start)
            {
                pending = new IovaRange(p.Start, clipped.Last);
                continue;
            }
            if (pending is { } done)
                yield return done;
            pending = clipped;
        }
        if (pending is { } last)
            yield return last;
    }

    /// <summary>Walks holes of the span tree from <paramref name="lo"/> up, skipping subtrees with no big enough gap.</summary>
    private bool FindHole(ulong lo, ulong hi, ulong length, ulong alignment, ulong pageOffset, out ulong iova)
    {
        iova = 0;
        for (var node = spans.FindGapAfter(lo, length); node is not null; node = spans.FindGapAfter(node.Start, length))
        {
            var holeStart = node.Start - node.GapBefore;
            if (holeStart > hi)
                return false;
            if (FitInto(Math.Max(holeStart, lo), Math.Min(node.Start - 1, hi), length, alignment, pageOffset, out iova))
                return true;
        }
        var lastNode = spans.LastNode;
        if (lastNode is not null && lastNode.Last == ulong.MaxValue)
            return false;
        var tailStart = lastNode is null ? 0 : lastNode.Last + 1;
        return tailStart <= hi && FitInto(Math.Max(tailStart, lo), hi, length, alignment, pageOffset, out iova);
    }

    /// <summary>Aligns the start of [start, last] (then ORs in the page offset) and checks the length still fits.</summary>
    private static bool FitInto(ulong start, ulong last, ulong length, ulong alignment, ulong pageOffset, out ulong aligned)
    {
        aligned = 0;
        if (start > last || last - start < length - 1)
            return false;
        var mask = alignment - 1;
        if (start > ulong.MaxValue - mask)
            return false;
        aligned = ((start + mask) & ~mask) | pageOffset;
        return aligned <= last && last - aligned >= length - 1;
    }
}
