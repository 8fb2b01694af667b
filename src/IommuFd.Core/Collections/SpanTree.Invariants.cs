namespace IommuFd.Core.Collections;

/// <summary>
/// The B+tree's structural invariants, checked by tests after random churn. Kept apart from the
/// blocks' upkeep (SpanTree.Blocks.cs) because it only reads them: nothing here changes the tree.
/// </summary>
internal sealed partial class SpanTree
{
    /// <summary>Checks every structural invariant and throws on the first violation; returns the height (tests only).</summary>
    internal int CheckInvariants()
    {
        var leaves = new List<Leaf>();
        var height = LeafDepth(_root) + 1;
        var total = Check(_root, isRoot: true, depth: 0, height - 1, leaves);
        Require(total == Count, "count");
        Require(ReferenceEquals(leaves[0], _head), "head is the leftmost leaf");
        for (var i = 0; i < leaves.Count; i++)
            Require(ReferenceEquals(leaves[i].Next, i + 1 < leaves.Count ? leaves[i + 1] : null), "leaf chain");
        for (var i = 1; i < leaves.Count; i++)
            Require(leaves[i].Starts[0] > leaves[i - 1].Lasts[leaves[i - 1].Count - 1], "leaves ordered and disjoint");
        return height;
    }

    private static int Check(Block b, bool isRoot, int depth, int leafDepth, List<Leaf> leaves)
    {
        Require(b.Count <= b.Starts.Length && (isRoot ? b.Count >= (b is Leaf ? 0 : 2) : !b.IsUnderfull), "fill");
        for (var k = b.Count; k < b.Starts.Length; k++)
            Require(b.Starts[k] == ulong.MaxValue, "padding");
        for (var k = 1; k < b.Count; k++)
            Require(b.Starts[k] > b.Lasts[k - 1], "entries ordered and disjoint");
        if (b is Leaf leaf)
        {
            Require(depth == leafDepth, "leaves at one depth");
            leaves.Add(leaf);
            for (var k = 0; k < leaf.Count; k++)
            {
                var node = leaf.Items[k]!;
                Require(node.Start == leaf.Starts[k] && node.Last == leaf.Lasts[k] && node.Start <= node.Last, "leaf keys match nodes");
            }
            return leaf.Count;
        }
        var branch = (Branch)b;
        var total = 0;
        for (var k = 0; k < branch.Count; k++)
        {
            var child = branch.Children[k]!;
            total += Check(child, isRoot: false, depth + 1, leafDepth, leaves);
            Require(branch.Starts[k] == child.Starts[0] && branch.Lasts[k] == child.Lasts[child.Count - 1] && branch.Inner[k] == child.InnerGap(), "summary");
        }
        return total;
    }

    private static int LeafDepth(Block b)
    {
        var depth = 0;
        while (b is Branch branch)
        {
            b = branch.Children[0]!;
            depth++;
        }
        return depth;
    }

    private static void Require(bool condition, string what)
    {
        if (!condition)
            throw new InvalidOperationException($"span tree invariant broken: {what}");
    }
}
