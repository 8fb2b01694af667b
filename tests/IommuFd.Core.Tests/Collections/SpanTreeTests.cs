using IommuFd.Core.Collections;

namespace IommuFd.Core.Tests.Collections;

public sealed class SpanTreeTests
{
    private sealed class Node : SpanNode
    {
        public Node(ulong start, ulong last)
        {
            Start = start;
            Last = last;
        }
    }

    /// <summary>Random inserts and removals; every query is checked against a sorted list.</summary>
    [Fact]
    public void AgreesWithSortedListUnderRandomChurn()
    {
        var rng = new Random(1234);
        var tree = new SpanTree();
        var list = new List<Node>();
        for (var step = 0; step < 20_000; step++)
        {
            if (list.Count == 0 || rng.Next(3) != 0)
            {
                var start = (ulong)rng.Next(0, 100_000) * 16;
                var last = start + (ulong)rng.Next(1, 64);
                if (list.Any(n => n.Start <= last && n.Last >= start))
                    continue;
                var node = new Node(start, last);
                tree.Insert(node);
                list.Add(node);
            }
            else
            {
                var victim = list[rng.Next(list.Count)];
                tree.Remove(victim);
                list.Remove(victim);
            }
            if (step % 97 != 0)
                continue;
            list.Sort((a, b) => a.Start.CompareTo(b.Start));
            Assert.Equal(list.Count, tree.Count);
            Assert.Equal(list, tree.InOrder().Cast<Node>());
            var probe = (ulong)rng.Next(0, 1_600_100);
            Assert.Same(list.LastOrDefault(n => n.Start <= probe), tree.Floor(probe));
            Assert.Same(list.FirstOrDefault(n => n.Start > probe), tree.Higher(probe));
            Assert.Same(list.FirstOrDefault(n => n.Last >= probe && n.Start <= probe + 40), tree.FirstIntersecting(probe, probe + 40));
            var minGap = (ulong)rng.Next(1, 400);
            Node? expectedGap = null;
            for (var i = 0; i < list.Count; i++)
            {
                var gap = list[i].Start - (i == 0 ? 0 : list[i - 1].Last + 1);
                if (list[i].Start > probe && gap >= minGap) { expectedGap = list[i]; break; }
            }
            Assert.Same(expectedGap, tree.FindGapAfter(probe, minGap));
        }
    }

    [Fact]
    public void HandlesTheTopOfTheAddressSpace()
    {
        var tree = new SpanTree();
        var top = new Node(ulong.MaxValue - 15, ulong.MaxValue);
        var bottom = new Node(0, 0);
        tree.Insert(top);
        tree.Insert(bottom);
        Assert.Same(top, tree.FirstIntersecting(ulong.MaxValue, ulong.MaxValue));
        Assert.Same(top, tree.FindGapAfter(0, ulong.MaxValue - 17));
        Assert.Null(tree.FindGapAfter(0, ulong.MaxValue - 15));
        Assert.Same(top, tree.LastNode);
    }
}
