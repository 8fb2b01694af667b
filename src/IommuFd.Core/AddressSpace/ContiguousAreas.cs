using IommuFd.Core.Collections;

namespace IommuFd.Core.AddressSpace;

/// <summary>The part [First, Last] of a wanted IOVA range that one area maps.</summary>
internal readonly record struct AreaPiece(Area Area, ulong First, ulong Last)
{
    public ulong Length => Last - First + 1;

    /// <summary>Byte offset into the area's pages that <see cref="First"/> maps.</summary>
    public ulong StartByte => Area.StartByteOf(First);
}

/// <summary>
/// The one walk over the areas that cover a wanted range without a hole (COPY's source, an
/// access's pins and copies): each step yields the piece of the range inside the next area;
/// the walk stops at the first hole or reserved span. <see cref="Covered"/> then says whether
/// it reached the range's end. The caller holds the page table's lock while walking.
/// </summary>
internal struct ContiguousAreas
{
    private readonly SpanTree _spans;
    private readonly ulong _wantLast;
    private SpanNode? _next;
    private ulong _cursor;
    private bool _stopped;

    public ContiguousAreas(SpanTree spans, IovaRange want)
    {
        _spans = spans;
        _wantLast = want.Last;
        _cursor = want.Start;
        _next = spans.FirstIntersecting(want.Start, want.Start);
    }

    public AreaPiece Current { get; private set; }

    /// <summary>Whether the pieces walked so far reach the end of the wanted range.</summary>
    public bool Covered { get; private set; }

    public bool MoveNext()
    {
        if (_stopped || Covered)
            return false;
        if (_next is not Area area || area.Start > _cursor)
        {
            _stopped = true;
            return false;
        }
        var last = Math.Min(area.Last, _wantLast);
        Current = new AreaPiece(area, _cursor, last);
        if (last == _wantLast)
        {
            Covered = true;
        }
        else
        {
            _cursor = last + 1;
            _next = _spans.Next(area);
        }
        return true;
    }
}
