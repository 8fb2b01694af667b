using System.Diagnostics;

namespace IommuFd.Core.AddressSpace;

/// <summary>Allowed and reserved IOVA: what user space may rely on, and what devices forbid.</summary>
public sealed partial class IoPageTable
{
    /// <summary>The usable IOVA windows (the holes between reserved ranges), in order.</summary>
    public IReadOnlyList<IovaRange> UsableRanges()
    {
        lock (_lock)
        {
            var holes = new List<IovaRange>();
            var cursor = 0UL;
            foreach (var span in _reservedSpans)
            {
                if (span.Start > cursor)
                    holes.Add(new IovaRange(cursor, span.Start - 1));
                if (span.Last == ulong.MaxValue)
                    return holes;
                cursor = span.Last + 1;
            }
            holes.Add(new IovaRange(cursor, ulong.MaxValue));
            return holes;
        }
    }

    public IReadOnlyList<IovaRange> AllowedRanges()
    {
        lock (_lock)
            return [.. _allowed];
    }

    /// <summary>
    /// Replaces the allowed list. Each range needs start &lt; last and may not overlap another
    /// (EINVAL, <see cref="AllowedRangeSet"/>); none may intersect reserved IOVA (EADDRINUSE). All or nothing.
    /// </summary>
    public Errno SetAllowed(IReadOnlyList<IovaRange> ranges)
    {
        var set = new AllowedRangeSet();
        foreach (var r in ranges)
        {
            var rc = set.Add(r);
            if (rc != Errno.Ok)
                return rc;
        }
        return SetAllowed(set);
    }

    /// <summary>Replaces the allowed list with checked ranges: EADDRINUSE when one intersects reserved IOVA.</summary>
    public Errno SetAllowed(AllowedRangeSet ranges)
    {
        lock (_lock)
        {
            foreach (var r in ranges.Ranges)
                if (ReservedIntersectsLocked(r))
                    return Errno.EADDRINUSE;
            _allowed = [.. ranges.Ranges];
            return Errno.Ok;
        }
    }

    /// <summary>
    /// Reserves [start, last] for <paramref name="owner"/> (a device's MSI window, a domain's
    /// aperture edges). EADDRINUSE when it would cover a mapping or an allowed range.
    /// </summary>
    public Errno Reserve(ulong start, ulong last, object? owner)
    {
        if (start > last)
            return Errno.EINVAL;
        lock (_lock)
            return ReserveLocked(start, last, owner);
    }

    /// <summary>Drops every reservation made by <paramref name="owner"/>.</summary>
    public void Unreserve(object? owner)
    {
        lock (_lock)
            UnreserveLocked(owner);
    }

    private Errno ReserveLocked(ulong start, ulong last, object? owner)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        foreach (var node in _spans.Intersecting(start, last))
            if (node is Area)
                return Errno.EADDRINUSE;
        var range = new IovaRange(start, last);
        foreach (var r in _allowed)
            if (r.Intersects(range))
                return Errno.EADDRINUSE;
        _reservations.Add(new Reservation(start, last, owner));
        RebuildReservedSpansLocked();
        return Errno.Ok;
    }

    private void UnreserveLocked(object? owner)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        if (_reservations.RemoveAll(r => ReferenceEquals(r.Owner, owner)) > 0)
            RebuildReservedSpansLocked();
    }

    private bool ReservedIntersectsLocked(IovaRange range)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        foreach (var node in _spans.Intersecting(range.Start, range.Last))
            if (node is ReservedSpan)
                return true;
        return false;
    }

    /// <summary>Re-merges the reservations (overlapping or adjacent ones join) into the span tree.</summary>
    private void RebuildReservedSpansLocked()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        foreach (var span in _reservedSpans)
            _spans.Remove(span);
        _reservedSpans.Clear();
        var ordered = _reservations.OrderBy(r => r.Start).ToList();
        ReservedSpan? current = null;
        foreach (var r in ordered)
        {
            if (current is not null && (current.Last == ulong.MaxValue || r.Start <= current.Last + 1))
            {
                current.Last = Math.Max(current.Last, r.Last);
                continue;
            }
            current = new ReservedSpan(r.Start, r.Last);
            _reservedSpans.Add(current);
        }
        foreach (var span in _reservedSpans)
            _spans.Insert(span);
    }
}
