using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace IommuFd.Core.Collections;

/// <summary>The B+tree's blocks and their upkeep: splits, merges, summaries and vector searches.</summary>
internal sealed partial class SpanTree
{
    /// <summary>
    /// Spans per leaf: a visit loads the leaf's three arrays at once (12 cache lines when full). At a
    /// million spans, 32 measured faster than 16 (more levels) or 64 (more lines per visit).
    /// </summary>
    private const int LeafCapacity = 32;

    /// <summary>Children per branch: wide, so there are few levels (three above a million spans, about 2 MB in all).</summary>
    private const int BranchCapacity = 64;

    private const int CacheLine = 64;

    /// <summary>Room for the branch path: 2^31 spans in quarter-full blocks need fewer than 10 levels.</summary>
    private const int MaxDepth = 16;

    [InlineArray(LeafCapacity)]
    private struct LeafKeys
    {
        private ulong _element;
    }

    [InlineArray(LeafCapacity)]
    private struct LeafItems
    {
        private SpanNode? _element;
    }

    [InlineArray(BranchCapacity)]
    private struct BranchKeys
    {
        private ulong _element;
    }

    [InlineArray(BranchCapacity)]
    private struct BranchChildren
    {
        private Block? _element;
    }

    [InlineArray(MaxDepth)]
    private struct BranchPath
    {
        private Branch? _element;
    }

    private abstract class Block
    {
        public int Count;

        /// <summary>Leaf: each span's start; branch: each child's first start. Unused slots hold ulong.MaxValue.</summary>
        public abstract Span<ulong> Starts { get; }

        /// <summary>Leaf: each span's last; branch: each child's last span's last.</summary>
        public abstract Span<ulong> Lasts { get; }

        public bool IsFull => Count == Starts.Length;

        /// <summary>
        /// Under a quarter full (outside the root): merge with or borrow from a sibling. Merges stop
        /// at <see cref="MaxMerged"/>, so a block just split, merged or evened out is many operations
        /// away from the next change: alternating inserts and removes never thrash.
        /// </summary>
        public bool IsUnderfull => Count < Starts.Length / 4;

        public int MaxMerged => Starts.Length * 3 / 4;

        /// <summary>The largest free gap between two spans of this subtree (0 with fewer than two).</summary>
        public abstract ulong InnerGap();

        /// <summary>Copies <paramref name="n"/> entries to <paramref name="dst"/> (which may be this block, overlapping).</summary>
        public abstract void Move(int from, Block dst, int to, int n);

        /// <summary>Empties slots: keys back to the padding value, references dropped for the GC.</summary>
        public virtual void Clear(int from, int n)
        {
            Starts.Slice(from, n).Fill(ulong.MaxValue);
            Lasts.Slice(from, n).Clear();
        }

        /// <summary>Shifts entries from <paramref name="i"/> up by one; the caller fills slot i.</summary>
        public void OpenSlot(int i)
        {
            Move(i, this, i + 1, Count - i);
            Count++;
        }

        public void CloseSlot(int i)
        {
            Move(i + 1, this, i, Count - i - 1);
            Count--;
            Clear(Count, 1);
        }

        protected void MoveKeys(int from, Block dst, int to, int n)
        {
            Starts.Slice(from, n).CopyTo(dst.Starts.Slice(to, n));
            Lasts.Slice(from, n).CopyTo(dst.Lasts.Slice(to, n));
        }
    }

    private sealed class Leaf : Block
    {
        private LeafKeys _starts;
        private LeafKeys _lasts;

        public LeafItems Items;

        public Leaf? Next;

        public Leaf() => Starts.Fill(ulong.MaxValue);

        public override Span<ulong> Starts => _starts;

        public override Span<ulong> Lasts => _lasts;

        public void Set(int i, SpanNode node)
        {
            _starts[i] = node.Start;
            _lasts[i] = node.Last;
            Items[i] = node;
        }

        public override ulong InnerGap() => MaxAdjacentGap(_starts, _lasts, Count);

        /// <summary>
        /// Starts loading the occupied lasts and items while the caller scans the starts, so a leaf
        /// costs one memory latency, not two (the second waiting for the index). Only a hint: if the
        /// GC moves the leaf meanwhile, the stale address is prefetched, which is harmless.
        /// </summary>
        public unsafe void Prefetch()
        {
            if (!Sse.IsSupported)
                return;
            var end = Count * sizeof(ulong);
            var lasts = (byte*)Unsafe.AsPointer(ref _lasts[0]);
            var items = (byte*)Unsafe.AsPointer(ref Items[0]);
            for (var offset = 0; offset < end; offset += CacheLine)
            {
                Sse.Prefetch0(lasts + offset);
                Sse.Prefetch0(items + offset);
            }
        }

        public override void Move(int from, Block dst, int to, int n)
        {
            MoveKeys(from, dst, to, n);
            ((Span<SpanNode?>)Items).Slice(from, n).CopyTo(((Span<SpanNode?>)((Leaf)dst).Items).Slice(to, n));
        }

        public override void Clear(int from, int n)
        {
            base.Clear(from, n);
            ((Span<SpanNode?>)Items).Slice(from, n).Clear();
        }
    }

    private sealed class Branch : Block
    {
        private BranchKeys _starts;
        private BranchKeys _lasts;

        /// <summary>Per child: the largest gap between two of its spans (gaps at its edges are derived from neighbours).</summary>
        public BranchKeys Inner;

        public BranchChildren Children;

        public Branch() => Starts.Fill(ulong.MaxValue);

        public override Span<ulong> Starts => _starts;

        public override Span<ulong> Lasts => _lasts;

        public override ulong InnerGap() => Math.Max(MaxAdjacentGap(_starts, _lasts, Count), Max(Inner, Count));

        public override void Move(int from, Block dst, int to, int n)
        {
            MoveKeys(from, dst, to, n);
            var d = (Branch)dst;
            ((Span<ulong>)Inner).Slice(from, n).CopyTo(((Span<ulong>)d.Inner).Slice(to, n));
            ((Span<Block?>)Children).Slice(from, n).CopyTo(((Span<Block?>)d.Children).Slice(to, n));
        }

        public override void Clear(int from, int n)
        {
            base.Clear(from, n);
            ((Span<ulong>)Inner).Slice(from, n).Clear();
            ((Span<Block?>)Children).Slice(from, n).Clear();
        }
    }

    /// <summary>The child of <paramref name="b"/> whose key range holds <paramref name="key"/> (the first when key is below all).</summary>
    private static int ChildFor(Branch b, ulong key) => Math.Max(CountAtMost(b.Starts, b.Count, key) - 1, 0);

    /// <summary>Refreshes the parent's summary of child <paramref name="j"/>; false when nothing changed.</summary>
    private static bool Summarize(Branch parent, int j)
    {
        var child = parent.Children[j]!;
        var first = child.Starts[0];
        var last = child.Lasts[child.Count - 1];
        var gap = child.InnerGap();
        if (parent.Starts[j] == first && parent.Lasts[j] == last && parent.Inner[j] == gap)
            return false;
        parent.Starts[j] = first;
        parent.Lasts[j] = last;
        parent.Inner[j] = gap;
        return true;
    }

    /// <summary>
    /// Moves the upper entries of the full child <paramref name="j"/> into a new right sibling.
    /// Half of them, unless <paramref name="key"/> goes at or next to an end: ascending (or
    /// descending) loads, such as first-fit IOVA allocation below a reserved top, then leave blocks
    /// three-quarters full, not half.
    /// </summary>
    private static void SplitChild(Branch parent, int j, ulong key)
    {
        var child = parent.Children[j]!;
        var at = CountAtMost(child.Starts, child.Count, key);
        var keep = at >= child.Count - 1 ? child.MaxMerged : at <= 1 ? child.Count - child.MaxMerged : child.Count / 2;
        Block sibling;
        if (child is Leaf leaf)
        {
            var right = new Leaf { Next = leaf.Next };
            leaf.Next = right;
            sibling = right;
        }
        else
        {
            sibling = new Branch();
        }
        var moved = child.Count - keep;
        child.Move(keep, sibling, 0, moved);
        child.Clear(keep, moved);
        child.Count = keep;
        sibling.Count = moved;
        parent.OpenSlot(j + 1);
        parent.Children[j + 1] = sibling;
        Summarize(parent, j);
        Summarize(parent, j + 1);
    }

    /// <summary>Child <paramref name="j"/> is under-full: merge it with a neighbour, or share the neighbour's entries evenly.</summary>
    private static void Rebalance(Branch parent, int j)
    {
        var a = j > 0 ? j - 1 : j;
        var left = parent.Children[a]!;
        var right = parent.Children[a + 1]!;
        var total = left.Count + right.Count;
        if (total <= left.MaxMerged)
        {
            right.Move(0, left, left.Count, right.Count);
            left.Count = total;
            if (left is Leaf leftLeaf)
                leftLeaf.Next = ((Leaf)right).Next;
            parent.CloseSlot(a + 1);
        }
        else
        {
            var keep = total / 2;
            if (left.Count < keep)
            {
                var n = keep - left.Count;
                right.Move(0, left, left.Count, n);
                right.Move(n, right, 0, right.Count - n);
                right.Clear(right.Count - n, n);
                right.Count -= n;
            }
            else
            {
                var n = left.Count - keep;
                right.Move(0, right, n, right.Count);
                left.Move(keep, right, 0, n);
                left.Clear(keep, n);
                right.Count += n;
            }
            left.Count = keep;
            Summarize(parent, a + 1);
        }
        Summarize(parent, a);
    }

    /// <summary>
    /// How many of the first <paramref name="count"/> (sorted) keys are ≤ <paramref name="key"/>.
    /// Whole vectors are compared without early exit: the cache lines load in parallel instead of one
    /// dependent miss per binary-search probe. Padding slots hold ulong.MaxValue, hence the clamp.
    /// </summary>
    private static int CountAtMost(ReadOnlySpan<ulong> keys, int count, ulong key)
    {
        var n = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            ref var first = ref MemoryMarshal.GetReference(keys);
            var probe = Vector256.Create(key);
            // Capacities are multiples of the vector width: every load stays inside the block.
            for (var i = 0; i < count; i += Vector256<ulong>.Count)
                n += BitOperations.PopCount(Vector256.LessThanOrEqual(Vector256.LoadUnsafe(ref first, (nuint)i), probe).ExtractMostSignificantBits());
            return Math.Min(n, count);
        }
        while (n < count && keys[n] <= key)
            n++;
        return n;
    }

    /// <summary>The largest starts[k] − lasts[k−1] − 1 for 1 ≤ k &lt; count: the free gaps between neighbours.</summary>
    private static ulong MaxAdjacentGap(ReadOnlySpan<ulong> starts, ReadOnlySpan<ulong> lasts, int count)
    {
        // Neighbours are disjoint, so start − previous last is at least 1: track that, subtract 1 at the end.
        var best = 1UL;
        var k = 1;
        if (Vector256.IsHardwareAccelerated && count > Vector256<ulong>.Count)
        {
            ref var s = ref MemoryMarshal.GetReference(starts);
            ref var l = ref MemoryMarshal.GetReference(lasts);
            var acc = Vector256.Create(1UL);
            for (; k + Vector256<ulong>.Count <= count; k += Vector256<ulong>.Count)
                acc = Vector256.Max(acc, Vector256.LoadUnsafe(ref s, (nuint)k) - Vector256.LoadUnsafe(ref l, (nuint)(k - 1)));
            for (var lane = 0; lane < Vector256<ulong>.Count; lane++)
                best = Math.Max(best, acc.GetElement(lane));
        }
        for (; k < count; k++)
            best = Math.Max(best, starts[k] - lasts[k - 1]);
        return best - 1;
    }

    /// <summary>The largest of the first <paramref name="count"/> values (0 when none).</summary>
    private static ulong Max(ReadOnlySpan<ulong> values, int count)
    {
        var best = 0UL;
        var k = 0;
        if (Vector256.IsHardwareAccelerated && count >= Vector256<ulong>.Count)
        {
            ref var v = ref MemoryMarshal.GetReference(values);
            var acc = Vector256<ulong>.Zero;
            for (; k + Vector256<ulong>.Count <= count; k += Vector256<ulong>.Count)
                acc = Vector256.Max(acc, Vector256.LoadUnsafe(ref v, (nuint)k));
            for (var lane = 0; lane < Vector256<ulong>.Count; lane++)
                best = Math.Max(best, acc.GetElement(lane));
        }
        for (; k < count; k++)
            best = Math.Max(best, values[k]);
        return best;
    }
}
