using System.Diagnostics;

namespace IommuFd.Core.Collections;

/// <summary>
/// A node of <see cref="SpanTree"/>: one occupied, inclusive IOVA span. Subclasses (areas,
/// reserved spans) are stored intrusively so each mapping costs one object, not two.
/// </summary>
internal abstract class SpanNode
{
    internal ulong Start;
    internal ulong Last;

    internal SpanNode? Left;
    internal SpanNode? Right;
    internal int Height = 1;

    /// <summary>Free bytes between the predecessor's end (or IOVA 0) and <see cref="Start"/>.</summary>
    internal ulong GapBefore;

    /// <summary>The largest <see cref="GapBefore"/> in this subtree: prunes the hole search.</summary>
    internal ulong MaxGap;

    public IovaRange Range => new(Start, Last);
}

/// <summary>
/// An AVL tree of disjoint spans ordered by start, augmented with the largest free gap of each
/// subtree. Insert, remove, point/overlap look-up and "first hole of at least N bytes after X"
/// are all O(log n), which keeps automatic IOVA allocation cheap with millions of areas.
/// Not thread-safe: the owner serialises access.
/// </summary>
internal sealed class SpanTree
{
    private SpanNode? _root;

    public int Count { get; private set; }

    public SpanNode? First => _root is null ? null : LeftMost(_root);

    public SpanNode? LastNode
    {
        get
        {
            var n = _root;
            while (n?.Right is not null)
                n = n.Right;
            return n;
        }
    }

    /// <summary>Inserts a span that must not overlap any span already present.</summary>
    public void Insert(SpanNode node)
    {
        Debug.Assert(node.Start <= node.Last);
        Debug.Assert(FirstIntersecting(node.Start, node.Last) is null, "spans must be disjoint");
        node.Left = node.Right = null;
        node.Height = 1;
        var pred = Lower(node.Start);
        node.GapBefore = pred is null ? node.Start : node.Start - (pred.Last + 1);
        node.MaxGap = node.GapBefore;
        _root = Insert(_root, node);
        Count++;
        var succ = Higher(node.Start);
        if (succ is not null)
            SetGap(succ, succ.Start - (node.Last + 1));
    }

    public void Remove(SpanNode node)
    {
        var pred = Lower(node.Start);
        _root = Remove(_root, node);
        node.Left = node.Right = null;
        Count--;
        var succ = Higher(node.Start);
        if (succ is not null)
            SetGap(succ, pred is null ? succ.Start : succ.Start - (pred.Last + 1));
    }

    /// <summary>The span with the largest start ≤ <paramref name="key"/>.</summary>
    public SpanNode? Floor(ulong key)
    {
        SpanNode? best = null;
        for (var n = _root; n is not null;)
        {
            if (n.Start <= key) { best = n; n = n.Right; }
            else n = n.Left;
        }
        return best;
    }

    /// <summary>The span with the largest start strictly below <paramref name="key"/>.</summary>
    public SpanNode? Lower(ulong key)
    {
        SpanNode? best = null;
        for (var n = _root; n is not null;)
        {
            if (n.Start < key) { best = n; n = n.Right; }
            else n = n.Left;
        }
        return best;
    }

    /// <summary>The span with the smallest start strictly above <paramref name="key"/>.</summary>
    public SpanNode? Higher(ulong key)
    {
        SpanNode? best = null;
        for (var n = _root; n is not null;)
        {
            if (n.Start > key) { best = n; n = n.Left; }
            else n = n.Right;
        }
        return best;
    }

    public SpanNode? Next(SpanNode node) => Higher(node.Start);

    /// <summary>The lowest span that intersects [start, last].</summary>
    public SpanNode? FirstIntersecting(ulong start, ulong last)
    {
        var floor = Floor(start);
        if (floor is not null && floor.Last >= start)
            return floor;
        var higher = floor is null ? FirstAtOrAbove(start) : Higher(floor.Start);
        return higher is not null && higher.Start <= last ? higher : null;
    }

    private SpanNode? FirstAtOrAbove(ulong key)
    {
        SpanNode? best = null;
        for (var n = _root; n is not null;)
        {
            if (n.Start >= key) { best = n; n = n.Left; }
            else n = n.Right;
        }
        return best;
    }

    /// <summary>
    /// The lowest span whose start is above <paramref name="afterKey"/> and whose preceding gap is at
    /// least <paramref name="minGap"/> bytes; subtrees whose largest gap is smaller are skipped.
    /// </summary>
    public SpanNode? FindGapAfter(ulong afterKey, ulong minGap) => FindGap(_root, afterKey, minGap);

    private static SpanNode? FindGap(SpanNode? n, ulong afterKey, ulong minGap)
    {
        while (n is not null && n.MaxGap >= minGap)
        {
            if (n.Start <= afterKey)
            {
                n = n.Right;
                continue;
            }
            var left = FindGap(n.Left, afterKey, minGap);
            if (left is not null)
                return left;
            if (n.GapBefore >= minGap)
                return n;
            n = n.Right;
        }
        return null;
    }

    /// <summary>In-order walk of every span intersecting [start, last].</summary>
    public IEnumerable<SpanNode> Intersecting(ulong start, ulong last)
    {
        for (var n = FirstIntersecting(start, last); n is not null && n.Start <= last; n = Next(n))
            yield return n;
    }

    public IEnumerable<SpanNode> InOrder()
    {
        var stack = new Stack<SpanNode>();
        var n = _root;
        while (n is not null || stack.Count > 0)
        {
            while (n is not null)
            {
                stack.Push(n);
                n = n.Left;
            }
            n = stack.Pop();
            yield return n;
            n = n.Right;
        }
    }

    private void SetGap(SpanNode node, ulong gap)
    {
        node.GapBefore = gap;
        Reaugment(_root, node);
    }

    /// <summary>Recomputes the augmentation along the search path to <paramref name="target"/>.</summary>
    private static void Reaugment(SpanNode? n, SpanNode target)
    {
        if (n is null)
            return;
        if (target.Start < n.Start)
            Reaugment(n.Left, target);
        else if (target.Start > n.Start)
            Reaugment(n.Right, target);
        Update(n);
    }

    private static SpanNode LeftMost(SpanNode n)
    {
        while (n.Left is not null)
            n = n.Left;
        return n;
    }

    private static int H(SpanNode? n) => n?.Height ?? 0;

    private static void Update(SpanNode n)
    {
        n.Height = Math.Max(H(n.Left), H(n.Right)) + 1;
        var max = n.GapBefore;
        if (n.Left is not null && n.Left.MaxGap > max) max = n.Left.MaxGap;
        if (n.Right is not null && n.Right.MaxGap > max) max = n.Right.MaxGap;
        n.MaxGap = max;
    }

    private static SpanNode RotateRight(SpanNode y)
    {
        var x = y.Left!;
        y.Left = x.Right;
        x.Right = y;
        Update(y);
        Update(x);
        return x;
    }

    private static SpanNode RotateLeft(SpanNode x)
    {
        var y = x.Right!;
        x.Right = y.Left;
        y.Left = x;
        Update(x);
        Update(y);
        return y;
    }

    private static SpanNode Balance(SpanNode n)
    {
        Update(n);
        var bf = H(n.Left) - H(n.Right);
        if (bf > 1)
        {
            if (H(n.Left!.Left) < H(n.Left.Right))
                n.Left = RotateLeft(n.Left);
            return RotateRight(n);
        }
        if (bf < -1)
        {
            if (H(n.Right!.Right) < H(n.Right.Left))
                n.Right = RotateRight(n.Right);
            return RotateLeft(n);
        }
        return n;
    }

    private static SpanNode Insert(SpanNode? n, SpanNode node)
    {
        if (n is null)
            return node;
        if (node.Start < n.Start)
            n.Left = Insert(n.Left, node);
        else
            n.Right = Insert(n.Right, node);
        return Balance(n);
    }

    private static SpanNode? Remove(SpanNode? n, SpanNode node)
    {
        if (n is null)
            throw new InvalidOperationException("span not in tree");
        if (node.Start < n.Start)
        {
            n.Left = Remove(n.Left, node);
            return Balance(n);
        }
        if (node.Start > n.Start)
        {
            n.Right = Remove(n.Right, node);
            return Balance(n);
        }
        Debug.Assert(ReferenceEquals(n, node));
        if (n.Left is null)
            return n.Right;
        if (n.Right is null)
            return n.Left;
        // Move the successor node object into this position (nodes are identities, keys are not copied).
        var right = RemoveMin(n.Right, out var successor);
        successor.Left = n.Left;
        successor.Right = right;
        return Balance(successor);
    }

    private static SpanNode? RemoveMin(SpanNode n, out SpanNode min)
    {
        if (n.Left is null)
        {
            min = n;
            return n.Right;
        }
        n.Left = RemoveMin(n.Left, out min);
        return Balance(n);
    }
}
