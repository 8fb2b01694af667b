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

        public override string ToString() => $"[{Start:x}, {Last:x}]";
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
            tree.CheckInvariants();
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
        Assert.Equal(ulong.MaxValue - 16, top.GapBefore);
        Assert.Null(tree.FindGapAfter(0, ulong.MaxValue - 15));
        Assert.Same(top, tree.LastNode);
        Assert.Same(bottom, tree.First);
        Assert.Same(bottom, tree.Floor(ulong.MaxValue - 16));
        Assert.Same(top, tree.Floor(ulong.MaxValue));
        Assert.Null(tree.Higher(ulong.MaxValue));
        Assert.Null(tree.Lower(0));
        Assert.Same(bottom, tree.Lower(1));
        Assert.Equal([bottom, top], tree.Intersecting(0, ulong.MaxValue).Cast<Node>());
        tree.CheckInvariants();
    }

    [Fact]
    public void GapsReachTheFullSixtyFourBits()
    {
        var tree = new SpanTree();
        var top = new Node(ulong.MaxValue, ulong.MaxValue);
        tree.Insert(top);
        // The first span's gap is measured from 0: all of 2^64 - 1 bytes.
        Assert.Same(top, tree.FindGapAfter(0, ulong.MaxValue));
        Assert.Equal(ulong.MaxValue, top.GapBefore);
        Assert.Null(tree.FindGapAfter(ulong.MaxValue, 0));
        tree.Remove(top);

        var everything = new Node(0, ulong.MaxValue);
        tree.Insert(everything);
        Assert.Same(everything, tree.FirstIntersecting(ulong.MaxValue, ulong.MaxValue));
        Assert.Same(everything, tree.FirstIntersecting(12345, 12345));
        Assert.Null(tree.FindGapAfter(0, 0));
        Assert.Null(tree.Higher(0));
        tree.CheckInvariants();
    }

    /// <summary>
    /// Gaps that grow (or shrink) steadily put the largest gap of every block at its edge: the
    /// search must derive those edge gaps from the neighbouring blocks' summaries.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void FindGapAfterSeesGapsBetweenBlocks(bool shrinking)
    {
        const int n = 20_000;
        var tree = new SpanTree();
        var nodes = new List<Node>();
        var at = 5UL;
        for (var i = 0; i < n; i++)
        {
            var gap = shrinking ? (ulong)(n - i) : (ulong)(i + 1);
            var node = new Node(at + gap, at + gap + 2);
            nodes.Add(node);
            at = node.Last + 1;
        }
        var rng = new Random(7);
        foreach (var node in nodes.OrderBy(_ => rng.Next()))
            tree.Insert(node);
        tree.CheckInvariants();

        for (var q = 0; q < 3_000; q++)
        {
            var afterKey = (ulong)rng.NextInt64(0, (long)at + 10);
            var minGap = (ulong)rng.Next(0, n + 3);
            var expected = ExpectedGap(nodes, afterKey, minGap, out var expectedGap);
            var found = tree.FindGapAfter(afterKey, minGap);
            Assert.Same(expected, found);
            if (found is not null)
                Assert.Equal(expectedGap, found.GapBefore);
        }
    }

    /// <summary>
    /// One large hole moved across every position of a four-level tree: wherever it falls (inside
    /// a leaf, or at the edge of a leaf or of a branch at any level) the search must find it.
    /// </summary>
    [Fact]
    public void FindGapAfterFindsASingleHoleAtEveryPosition()
    {
        const int n = 160_000;
        const ulong length = 4;
        var tree = new SpanTree();
        var nodes = Enumerable.Range(0, n).Select(i => new Node((ulong)i * (length + 1) + 1, (ulong)i * (length + 1) + length)).ToList();
        foreach (var node in nodes)
            tree.Insert(node);
        Assert.True(tree.CheckInvariants() >= 4, "four levels or more");
        Assert.Null(tree.FindGapAfter(0, 2));
        for (var j = 0; j < n - 1; j++)
        {
            // Removing span j leaves a hole of 1 + length + 1 bytes before span j + 1.
            tree.Remove(nodes[j]);
            Assert.Same(nodes[j + 1], tree.FindGapAfter(0, length + 2));
            Assert.Same(nodes[j + 1], tree.FindGapAfter(nodes[j].Start, length + 2));
            Assert.Equal(length + 2, nodes[j + 1].GapBefore);
            Assert.Null(tree.FindGapAfter(nodes[j + 1].Start, 2));
            Assert.Null(tree.FindGapAfter(0, length + 3));
            tree.Insert(nodes[j]);
        }
        tree.CheckInvariants();
    }

    /// <summary>
    /// Hundreds of thousands of operations on a tree several levels deep: grow, shrink to empty,
    /// grow again. Structure and summaries are checked throughout and every query against a model.
    /// </summary>
    [Theory]
    [InlineData(1, 100_000)]
    [InlineData(2, 30_000)]
    public void StaysConsistentThroughGrowthShrinkageAndRegrowth(int seed, int peak)
    {
        var rng = new Random(seed);
        var tree = new SpanTree();
        var model = new SortedSet<Node>(Comparer<Node>.Create((a, b) => a.Start.CompareTo(b.Start)));
        var live = new List<Node>();

        // The extremes of the address space take part too.
        AddIfFree(new Node(0, 9));
        AddIfFree(new Node(ulong.MaxValue - 9, ulong.MaxValue));

        var step = 0;
        void Phase(int target, int insertPercent)
        {
            while (target > model.Count ? model.Count < target : model.Count > target)
            {
                if (live.Count == 0 || rng.Next(100) < insertPercent)
                {
                    // Mostly small gaps with a few huge ones, in the low 2^40 or near the top.
                    var start = rng.Next(10) == 0
                        ? ulong.MaxValue - (ulong)rng.NextInt64(0, 1L << 40)
                        : (ulong)rng.NextInt64(0, 1L << 40);
                    var length = (ulong)rng.NextInt64(1, rng.Next(20) == 0 ? 1L << 30 : 1L << 14);
                    var last = start > ulong.MaxValue - (length - 1) ? ulong.MaxValue : start + (length - 1);
                    AddIfFree(new Node(start, last));
                }
                else
                {
                    var index = rng.Next(live.Count);
                    var victim = live[index];
                    live[index] = live[^1];
                    live.RemoveAt(live.Count - 1);
                    model.Remove(victim);
                    tree.Remove(victim);
                }
                if (++step % 8_000 == 0)
                    Verify(full: step % 50_000 == 0);
            }
            Verify(full: true);
        }

        Phase(peak, 75);
        Assert.True(tree.CheckInvariants() >= (peak >= 100_000 ? 4 : 3), "deep enough");
        Phase(0, 15);
        Assert.Equal(0, tree.Count);
        Assert.Null(tree.First);
        Assert.Null(tree.LastNode);
        Assert.Empty(tree.InOrder());
        Assert.Null(tree.FindGapAfter(0, 1));
        Assert.Null(tree.Floor(ulong.MaxValue));
        Phase(peak / 3, 90);

        void AddIfFree(Node node)
        {
            if (model.GetViewBetween(Probe(node.Start), Probe(node.Last)).Min is not null)
                return;
            var floor = ModelFloor(node.Start);
            if (floor is not null && floor.Last >= node.Start)
                return;
            tree.Insert(node);
            model.Add(node);
            live.Add(node);
        }

        Node? ModelFloor(ulong key) => model.GetViewBetween(Probe(0), Probe(key)).Max;

        Node? ModelHigher(ulong key) => key == ulong.MaxValue ? null : model.GetViewBetween(Probe(key + 1), Probe(ulong.MaxValue)).Min;

        void Verify(bool full)
        {
            tree.CheckInvariants();
            Assert.Equal(model.Count, tree.Count);
            Assert.Same(model.Min, tree.First);
            Assert.Same(model.Max, tree.LastNode);
            if (full)
                Assert.Equal(model, tree.InOrder().Cast<Node>());
            for (var q = 0; q < 20; q++)
            {
                var key = RandomKey();
                var floor = ModelFloor(key);
                Assert.Same(floor, tree.Floor(key));
                Assert.Same(key == 0 ? null : ModelFloor(key - 1), tree.Lower(key));
                var higher = ModelHigher(key);
                Assert.Same(higher, tree.Higher(key));
                if (floor is not null)
                    Assert.Same(higher, tree.Next(floor));

                var last = key > ulong.MaxValue - (1UL << 36) ? ulong.MaxValue : key + (ulong)rng.NextInt64(0, 1L << 36);
                var expectedList = model.GetViewBetween(Probe(key), Probe(last)).ToList();
                if (floor is not null && floor.Last >= key && floor.Start < key)
                    expectedList.Insert(0, floor);
                Assert.Same(expectedList.FirstOrDefault(), tree.FirstIntersecting(key, last));
                Assert.Equal(expectedList, tree.Intersecting(key, last).Cast<Node>());
            }
            for (var q = 0; q < 4; q++)
            {
                var afterKey = RandomKey();
                var minGap = rng.Next(4) switch
                {
                    0 => (ulong)rng.NextInt64(0, 1L << 20),
                    1 => (ulong)rng.NextInt64(0, 1L << 30),
                    2 => (ulong)rng.NextInt64(0, 1L << 40),
                    _ => ulong.MaxValue - (ulong)rng.NextInt64(0, 1L << 62),
                };
                var expected = ExpectedGap(model, afterKey, minGap, out var gap);
                var found = tree.FindGapAfter(afterKey, minGap);
                Assert.Same(expected, found);
                if (found is not null)
                    Assert.Equal(gap, found.GapBefore);
            }
        }

        ulong RandomKey() => rng.Next(8) switch
        {
            0 => (ulong)rng.NextInt64(),
            1 => ulong.MaxValue - (ulong)rng.NextInt64(0, 1L << 40),
            2 when live.Count > 0 => live[rng.Next(live.Count)].Start,
            3 when live.Count > 0 => live[rng.Next(live.Count)].Last,
            _ => (ulong)rng.NextInt64(0, 1L << 40),
        };
    }

    [Fact]
    public void RemovingAStrangerThrows()
    {
        var tree = new SpanTree();
        tree.Insert(new Node(10, 20));
        Assert.Throws<InvalidOperationException>(() => tree.Remove(new Node(10, 20)));
        Assert.Throws<InvalidOperationException>(() => tree.Remove(new Node(30, 40)));
        Assert.Equal(1, tree.Count);
    }

    [Fact]
    public void ChangingTheTreeDuringEnumerationThrows()
    {
        var tree = new SpanTree();
        for (var i = 0UL; i < 10; i++)
            tree.Insert(new Node(i * 10, i * 10 + 5));
        Assert.Throws<InvalidOperationException>(() =>
        {
            foreach (var node in tree.InOrder())
                tree.Insert(new Node(node.Last + 1, node.Last + 1));
        });
    }

    /// <summary>Ascending and descending bulk loads (the benchmark's pattern) leave a valid tree.</summary>
    [Fact]
    public void SequentialLoadsInBothDirections()
    {
        const int n = 100_000;
        foreach (var descending in new[] { false, true })
        {
            var tree = new SpanTree();
            var nodes = Enumerable.Range(0, n).Select(i => new Node((ulong)i * 8 + 4, (ulong)i * 8 + 7)).ToList();
            foreach (var node in descending ? Enumerable.Reverse(nodes) : nodes)
                tree.Insert(node);
            tree.CheckInvariants();
            Assert.Equal(nodes, tree.InOrder().Cast<Node>());
            Assert.Same(nodes[0], tree.FindGapAfter(0, 4));
            Assert.Same(nodes[^1], tree.FindGapAfter(nodes[^2].Start, 4));
            Assert.Null(tree.FindGapAfter(0, 5));
            for (var i = 0; i < n; i += 2)
                tree.Remove(nodes[i]);
            tree.CheckInvariants();
            Assert.Same(nodes[3], tree.FindGapAfter(nodes[1].Start, 12));
            Assert.Equal(12UL, nodes[3].GapBefore);
            Assert.Null(tree.FindGapAfter(0, 13));
            Assert.Equal(nodes.Where((_, i) => i % 2 == 1), tree.Intersecting(0, ulong.MaxValue).Cast<Node>());
        }
    }

    /// <summary>The lowest node with Start above afterKey whose preceding gap is at least minGap, by a linear scan.</summary>
    private static Node? ExpectedGap(IEnumerable<Node> ordered, ulong afterKey, ulong minGap, out ulong gap)
    {
        Node? previous = null;
        foreach (var node in ordered)
        {
            gap = previous is null ? node.Start : node.Start - previous.Last - 1;
            if (node.Start > afterKey && gap >= minGap)
                return node;
            previous = node;
        }
        gap = 0;
        return null;
    }

    private static Node Probe(ulong start) => new(start, start);
}
