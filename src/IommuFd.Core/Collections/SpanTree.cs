using System.Collections;
using System.Diagnostics;

namespace IommuFd.Core.Collections;

/// <summary>
/// An entry of <see cref="SpanTree"/>: one occupied, inclusive IOVA span. Subclasses (areas,
/// reserved spans, counter runs) carry the payload; the tree keeps copies of <see cref="Start"/>
/// and <see cref="Last"/> inline, so neither may change while the node is in a tree.
/// </summary>
internal abstract class SpanNode
{
    internal ulong Start;
    internal ulong Last;

    /// <summary>
    /// Free bytes between the predecessor's end (or IOVA 0) and <see cref="Start"/>, as seen by the
    /// <see cref="SpanTree.FindGapAfter"/> call that returned this node. Not kept up to date
    /// otherwise: that would touch the successor's object on every insert and remove.
    /// </summary>
    internal ulong GapBefore;

    public IovaRange Range => new(Start, Last);
}

/// <summary>
/// Disjoint spans ordered by start, in a B+tree: leaves hold up to <see cref="LeafCapacity"/> spans as
/// inline (start, last, node) arrays and are linked left to right; branches hold, per child, its
/// first start, its last end and the largest gap between its own spans. A look-up touches a handful
/// of cache lines per level instead of one scattered object per binary level, and "first hole of
/// at least N bytes after X" stays O(log n) because gaps between children are derived from their
/// neighbours' summaries. Not thread-safe: the owner serialises access.
/// </summary>
internal sealed partial class SpanTree
{
    private Block _root;

    /// <summary>The leftmost leaf. Never replaced: splits move upper halves right, merges keep the left block.</summary>
    private readonly Leaf _head;

    /// <summary>Bumped by every change so enumerators can refuse to walk a stale position.</summary>
    private int _version;

    public SpanTree()
    {
        _head = new Leaf();
        _root = _head;
    }

    public int Count { get; private set; }

    public SpanNode? First => _head.Count == 0 ? null : _head.Items[0];

    public SpanNode? LastNode
    {
        get
        {
            var b = _root;
            while (b is Branch branch)
                b = branch.Children[branch.Count - 1]!;
            return b.Count == 0 ? null : ((Leaf)b).Items[b.Count - 1];
        }
    }

    /// <summary>Inserts a span that must not overlap any span already present.</summary>
    public void Insert(SpanNode node)
    {
        Debug.Assert(node.Start <= node.Last);
        Debug.Assert(FirstIntersecting(node.Start, node.Last) is null, "spans must be disjoint");
        var key = node.Start;
        if (_root.IsFull)
        {
            var top = new Branch { Count = 1 };
            top.Children[0] = _root;
            Summarize(top, 0);
            SplitChild(top, 0, key);
            _root = top;
        }

        // Full children are split on the way down, so the leaf and every branch on the path have room.
        var path = new BranchPath();
        Span<int> slots = stackalloc int[MaxDepth];
        var depth = 0;
        var b = _root;
        while (b is Branch branch)
        {
            var j = ChildFor(branch, key);
            if (branch.Children[j]!.IsFull)
            {
                SplitChild(branch, j, key);
                if (key >= branch.Starts[j + 1])
                    j++;
            }
            path[depth] = branch;
            slots[depth++] = j;
            b = branch.Children[j]!;
        }
        var leaf = (Leaf)b;
        leaf.Prefetch();
        var i = CountAtMost(leaf.Starts, leaf.Count, key);
        leaf.OpenSlot(i);
        leaf.Set(i, node);
        Count++;
        _version++;

        // Once a child's summary is unchanged, nothing above it can have changed either.
        while (--depth >= 0 && Summarize(path[depth]!, slots[depth]))
        {
        }
    }

    public void Remove(SpanNode node)
    {
        var key = node.Start;
        var path = new BranchPath();
        Span<int> slots = stackalloc int[MaxDepth];
        var depth = 0;
        var b = _root;
        while (b is Branch branch)
        {
            var j = ChildFor(branch, key);
            path[depth] = branch;
            slots[depth++] = j;
            b = branch.Children[j]!;
        }
        var leaf = (Leaf)b;
        leaf.Prefetch();
        var i = CountAtMost(leaf.Starts, leaf.Count, key) - 1;
        if (i < 0 || !ReferenceEquals(leaf.Items[i], node))
            throw new InvalidOperationException("span not in tree");
        leaf.CloseSlot(i);
        Count--;
        _version++;

        while (--depth >= 0)
        {
            var parent = path[depth]!;
            var j = slots[depth];
            if (parent.Children[j]!.IsUnderfull)
                Rebalance(parent, j);
            else if (!Summarize(parent, j))
                break;
        }
        while (_root is Branch { Count: 1 } lone)
            _root = lone.Children[0]!;
    }

    /// <summary>The span with the largest start ≤ <paramref name="key"/>.</summary>
    public SpanNode? Floor(ulong key)
    {
        var leaf = Locate(key, out var i);
        return i < 0 ? null : leaf.Items[i];
    }

    /// <summary>The span with the largest start strictly below <paramref name="key"/>.</summary>
    public SpanNode? Lower(ulong key) => key == 0 ? null : Floor(key - 1);

    /// <summary>The span with the smallest start strictly above <paramref name="key"/>.</summary>
    public SpanNode? Higher(ulong key)
    {
        var leaf = Locate(key, out var i);
        return EntryAt(leaf, i + 1);
    }

    public SpanNode? Next(SpanNode node) => Higher(node.Start);

    /// <summary>The lowest span that intersects [start, last].</summary>
    public SpanNode? FirstIntersecting(ulong start, ulong last)
    {
        var leaf = FindFirstIntersecting(start, last, out var i);
        return leaf?.Items[i];
    }

    /// <summary>
    /// The lowest span whose start is above <paramref name="afterKey"/> and whose preceding gap
    /// (from the predecessor's end, or from 0 for the first span) is at least
    /// <paramref name="minGap"/> bytes; sets that node's <see cref="SpanNode.GapBefore"/>.
    /// Children whose gaps are all smaller are skipped.
    /// </summary>
    public SpanNode? FindGapAfter(ulong afterKey, ulong minGap) => FindGap(_root, afterKey, minGap, hasPred: false, predLast: 0);

    /// <summary>In-order walk of every span intersecting [start, last]. The tree must not change meanwhile.</summary>
    public SpanSequence Intersecting(ulong start, ulong last) => new(this, start, last);

    /// <summary>Every span in order. The tree must not change meanwhile.</summary>
    public SpanSequence InOrder() => new(this, 0, ulong.MaxValue);

    /// <summary>The leaf where <paramref name="key"/> belongs and its floor entry there (-1: all spans start above).</summary>
    private Leaf Locate(ulong key, out int index)
    {
        var b = _root;
        while (b is Branch branch)
            b = branch.Children[ChildFor(branch, key)]!;
        var leaf = (Leaf)b;
        leaf.Prefetch();
        index = CountAtMost(leaf.Starts, leaf.Count, key) - 1;
        return leaf;
    }

    /// <summary>Entry <paramref name="index"/> of the leaf or, one past its end, the next leaf's first.</summary>
    private static SpanNode? EntryAt(Leaf leaf, int index)
    {
        if (index < leaf.Count)
            return leaf.Items[index];
        // Only the root leaf can be empty, and it has no neighbour.
        return leaf.Next?.Items[0];
    }

    /// <summary>Position of the lowest span intersecting [start, last], or null.</summary>
    private Leaf? FindFirstIntersecting(ulong start, ulong last, out int index)
    {
        Leaf? leaf = Locate(start, out index);
        if (index >= 0 && leaf.Lasts[index] >= start)
            return leaf;
        if (++index == leaf.Count)
        {
            leaf = leaf.Next;
            index = 0;
        }
        return leaf is not null && leaf.Starts[index] <= last ? leaf : null;
    }

    private static SpanNode? FindGap(Block b, ulong afterKey, ulong minGap, bool hasPred, ulong predLast)
    {
        ReadOnlySpan<ulong> starts = b.Starts;
        ReadOnlySpan<ulong> lasts = b.Lasts;
        var k = CountAtMost(starts, b.Count, afterKey);
        if (b is Leaf leaf)
        {
            for (; k < leaf.Count; k++)
            {
                var gap = GapBefore(starts, lasts, k, hasPred, predLast);
                if (gap >= minGap)
                {
                    var node = leaf.Items[k]!;
                    node.GapBefore = gap;
                    return node;
                }
            }
            return null;
        }

        // Start with the child holding afterKey's floor: it may still hold higher spans.
        var branch = (Branch)b;
        for (k = Math.Max(k - 1, 0); k < branch.Count; k++)
        {
            var firstFits = starts[k] > afterKey && GapBefore(starts, lasts, k, hasPred, predLast) >= minGap;
            var innerFits = branch.Inner[k] >= minGap && lasts[k] > afterKey;
            if (!firstFits && !innerFits)
                continue;
            // Only the child holding afterKey can fail here: every later one has a fitting gap above it.
            var found = FindGap(branch.Children[k]!, afterKey, minGap, hasPred || k > 0, k > 0 ? lasts[k - 1] : predLast);
            if (found is not null)
                return found;
        }
        return null;
    }

    /// <summary>Free bytes before entry <paramref name="k"/>: from the previous entry's end, the block's predecessor's, or 0.</summary>
    private static ulong GapBefore(ReadOnlySpan<ulong> starts, ReadOnlySpan<ulong> lasts, int k, bool hasPred, ulong predLast) =>
        k > 0 ? starts[k] - lasts[k - 1] - 1
        : hasPred ? starts[0] - predLast - 1
        : starts[0];

    /// <summary>
    /// Spans in order from the lowest intersecting [start, last] while they start at or below last.
    /// A struct so foreach allocates nothing; boxed only when used as an <see cref="IEnumerable{T}"/>.
    /// </summary>
    public readonly struct SpanSequence : IEnumerable<SpanNode>
    {
        private readonly SpanTree _tree;
        private readonly ulong _start;
        private readonly ulong _last;
        private readonly int _version;

        internal SpanSequence(SpanTree tree, ulong start, ulong last)
        {
            _tree = tree;
            _start = start;
            _last = last;
            _version = tree._version;
        }

        public Enumerator GetEnumerator() => new(_tree, _start, _last, _version);

        IEnumerator<SpanNode> IEnumerable<SpanNode>.GetEnumerator() => GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>Walks the leaf chain: O(1) per step after the first look-up.</summary>
    public struct Enumerator : IEnumerator<SpanNode>
    {
        private readonly SpanTree _tree;
        private readonly ulong _start;
        private readonly ulong _last;
        private readonly int _version;
        private Leaf? _leaf;
        private int _index;
        private bool _started;
        private SpanNode? _current;

        internal Enumerator(SpanTree tree, ulong start, ulong last, int version)
        {
            _tree = tree;
            _start = start;
            _last = last;
            _version = version;
        }

        public readonly SpanNode Current => _current!;

        readonly object IEnumerator.Current => Current;

        public bool MoveNext()
        {
            if (_tree._version != _version)
                throw new InvalidOperationException("the span tree changed during enumeration");
            if (!_started)
            {
                _started = true;
                _leaf = _tree.FindFirstIntersecting(_start, _last, out _index);
            }
            else if (_leaf is not null && ++_index == _leaf.Count)
            {
                _leaf = _leaf.Next;
                _index = 0;
            }
            if (_leaf is null || _leaf.Starts[_index] > _last)
            {
                _leaf = null;
                _current = null;
                return false;
            }
            _current = _leaf.Items[_index];
            return true;
        }

        public void Reset() => throw new NotSupportedException();

        public readonly void Dispose()
        {
        }
    }
}
