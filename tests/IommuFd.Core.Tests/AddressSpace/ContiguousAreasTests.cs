using IommuFd.Core.AddressSpace;
using IommuFd.Core.Collections;
using IommuFd.Core.Memory;
using IommuFd.Core.Pages;

namespace IommuFd.Core.Tests.AddressSpace;

/// <summary>
/// The one walk over contiguous areas: random layouts of areas, holes and reserved spans, each
/// walk checked against a byte-by-byte answer (which area maps each IOVA of the wanted range).
/// </summary>
public sealed class ContiguousAreasTests
{
    private static readonly UserPages Pages = new(new SimulatedUserMemory(), new PinCharge(new IommuHost(new SimulatedUserMemory(), ulong.MaxValue), AccountMode.User), 0x100000, 0x100000, writable: true);

    private static Area NewArea(ulong start, ulong last) => new(Pages, start, 0, last - start + 1, IoProt.Read);

    [Fact]
    public void PiecesFollowAdjacentAreasAndStopAtAHole()
    {
        var tree = new SpanTree();
        Area a = NewArea(0x10, 0x1f), b = NewArea(0x20, 0x2f), c = NewArea(0x40, 0x4f);
        foreach (var area in new[] { a, b, c })
            tree.Insert(area);

        var walk = new ContiguousAreas(tree, new IovaRange(0x18, 0x27));
        Assert.Equal([new AreaPiece(a, 0x18, 0x1f), new AreaPiece(b, 0x20, 0x27)], Drain(ref walk));
        Assert.True(walk.Covered);

        walk = new ContiguousAreas(tree, new IovaRange(0x18, 0x44));
        Assert.Equal([new AreaPiece(a, 0x18, 0x1f), new AreaPiece(b, 0x20, 0x2f)], Drain(ref walk));
        Assert.False(walk.Covered);

        walk = new ContiguousAreas(tree, new IovaRange(0x30, 0x44));
        Assert.Empty(Drain(ref walk));
        Assert.False(walk.Covered);
    }

    [Fact]
    public void AReservedSpanIsAHole()
    {
        var tree = new SpanTree();
        var a = NewArea(0x10, 0x1f);
        tree.Insert(a);
        tree.Insert(new ReservedSpan(0x20, 0x2f));
        tree.Insert(NewArea(0x30, 0x3f));
        var walk = new ContiguousAreas(tree, new IovaRange(0x10, 0x3f));
        Assert.Equal([new AreaPiece(a, 0x10, 0x1f)], Drain(ref walk));
        Assert.False(walk.Covered);
    }

    [Fact]
    public void AgreesWithAByteByByteAnswerOnRandomLayouts()
    {
        var rng = new Random(8);
        for (var round = 0; round < 300; round++)
        {
            var tree = new SpanTree();
            var owner = new SpanNode?[256];
            for (var at = 0UL; at < 256;)
            {
                var length = (ulong)rng.Next(1, 24);
                var last = Math.Min(at + length - 1, 255);
                SpanNode? node = rng.Next(4) switch
                {
                    0 => null,
                    1 => new ReservedSpan(at, last),
                    _ => NewArea(at, last),
                };
                if (node is not null)
                    tree.Insert(node);
                for (var i = at; i <= last; i++)
                    owner[i] = node;
                at = last + 1;
            }
            var start = (ulong)rng.Next(256);
            var want = new IovaRange(start, (ulong)rng.Next((int)start, 256));

            var expected = new List<AreaPiece>();
            var covered = true;
            for (var i = want.Start; i <= want.Last; i++)
            {
                if (owner[i] is not Area area)
                {
                    covered = false;
                    break;
                }
                if (expected.Count > 0 && ReferenceEquals(expected[^1].Area, area))
                    expected[^1] = expected[^1] with { Last = i };
                else
                    expected.Add(new AreaPiece(area, i, i));
            }

            var walk = new ContiguousAreas(tree, want);
            Assert.Equal(expected, Drain(ref walk));
            Assert.Equal(covered, walk.Covered);
        }
    }

    private static List<AreaPiece> Drain(ref ContiguousAreas walk)
    {
        var pieces = new List<AreaPiece>();
        while (walk.MoveNext())
            pieces.Add(walk.Current);
        return pieces;
    }
}
