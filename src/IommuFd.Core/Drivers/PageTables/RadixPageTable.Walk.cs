namespace IommuFd.Core.Drivers.PageTables;

public sealed partial class RadixPageTable<TCodec>
{
    /// <summary>
    /// Walks for one device access as the IOMMU would: a read needs the leaf's read permission, a write its write
    /// permission. With <paramref name="setAccessedDirty"/> a permitted access writes the leaf's hardware state back
    /// (accessed; dirty for a write), the way hardware does when accessed/dirty tracking is on. The translation is
    /// filled in for <see cref="PageWalkStatus.PermissionDenied"/> too, so a fault can report the leaf.
    /// </summary>
    public PageWalkStatus TryTranslate(ulong iova, bool write, bool setAccessedDirty, out PageTranslation translation)
    {
        translation = default;
        if (iova > CoverLast)
            return PageWalkStatus.NotMapped;
        var slot = _root;
        var level = _top;
        while (true)
        {
            var table = _store[slot];
            var index = Index(iova, level);
            var pte = table[index];
            switch (_codec.Kind(pte, level))
            {
                case PteKind.Empty:
                    return PageWalkStatus.NotMapped;
                case PteKind.Table:
                    slot = _store.SlotOf(_codec.TableAddress(pte));
                    level--;
                    break;
                default:
                    var leaf = _codec.DecodeLeaf(pte, level);
                    var mask = (1UL << leaf.SizeLog2) - 1;
                    translation = new PageTranslation(leaf.OutputAddress + (iova & mask), leaf.Prot, mask + 1);
                    if ((leaf.Prot & (write ? IoProt.Write : IoProt.Read)) == 0)
                        return PageWalkStatus.PermissionDenied;
                    if (setAccessedDirty)
                        table[index] = _codec.MarkAccessed(pte, write);
                    return PageWalkStatus.Translated;
            }
        }
    }

    /// <summary>Reports every leaf that overlaps [iova, iova+length), once and whole, in IOVA order.</summary>
    public void WalkLeaves<TVisitor>(ulong iova, ulong length, ref TVisitor visitor) where TVisitor : ILeafVisitor, allows ref struct
    {
        if (length == 0 || iova > CoverLast)
            return;
        var last = Math.Min(CoverLast, iova + (length - 1) < iova ? ulong.MaxValue : iova + (length - 1));
        // The visitor travels by value (a ref struct cannot be held by reference) and comes back with its state.
        var action = new VisitAction<TVisitor> { Visitor = visitor };
        ForEachLeaf(_root, _top, iova, last, ref action);
        visitor = action.Visitor;
    }

    /// <summary>
    /// Reports the dirty parts of [iova, iova+length) (each dirty leaf's overlap with the range) and, with
    /// <paramref name="clear"/>, returns those leaves to clean. A leaf only partly inside is cleared whole, as
    /// hardware keeps one dirty state per leaf. Allocates nothing.
    /// </summary>
    public void ReadAndClearDirty<TSink>(ulong iova, ulong length, bool clear, ref TSink sink) where TSink : IDirtySink, allows ref struct
    {
        if (length == 0 || iova > CoverLast)
            return;
        var last = Math.Min(CoverLast, iova + (length - 1) < iova ? ulong.MaxValue : iova + (length - 1));
        var action = new DirtyAction<TSink>(_codec, iova, last, clear, sink);
        ForEachLeaf(_root, _top, iova, last, ref action);
        sink = action.Sink;
    }

    /// <summary>
    /// <see cref="ReadAndClearDirty{TSink}"/> into a bitmap: bit n (of 64-bit words, little-endian bit order) stands
    /// for the <paramref name="pageSize"/> page at iova + n × pageSize, as IOMMU_HWPT_GET_DIRTY_BITMAP lays it out.
    /// Bits are only ever set. Returns the dirty bytes found inside the range.
    /// </summary>
    public ulong ReadAndClearDirty(ulong iova, ulong length, ulong pageSize, Span<ulong> bitmap, bool clear)
    {
        if (!System.Numerics.BitOperations.IsPow2(pageSize) || ((iova | length) & (pageSize - 1)) != 0)
            throw new ArgumentException($"range 0x{iova:x}+0x{length:x} is not a multiple of page size 0x{pageSize:x}");
        var pages = length / pageSize;
        if ((ulong)bitmap.Length * 64 < pages)
            throw new ArgumentException($"bitmap of {bitmap.Length} words is too small for {pages} pages", nameof(bitmap));
        var sink = new BitmapSink(bitmap, iova, System.Numerics.BitOperations.Log2(pageSize));
        ReadAndClearDirty(iova, length, clear, ref sink);
        return sink.Bytes;
    }

    /// <summary>Visits each leaf run (all the entries of one leaf) whose IOVA overlaps [start, last].</summary>
    private void ForEachLeaf<TAction>(int slot, int level, ulong start, ulong last, ref TAction action)
        where TAction : ILeafRunAction, allows ref struct
    {
        var table = _store[slot];
        var shift = _levelShift[level];
        var tableBase = start & ~_tableSpanMask[level];
        var end = Index(last, level);
        for (var i = Index(start, level); i <= end; i++)
        {
            var pte = table[i];
            switch (_codec.Kind(pte, level))
            {
                case PteKind.Empty:
                    continue;
                case PteKind.Table:
                {
                    var entryBase = tableBase + ((ulong)i << shift);
                    var entryLast = entryBase + ((1UL << shift) - 1);
                    ForEachLeaf(_store.SlotOf(_codec.TableAddress(pte)), level - 1, Math.Max(start, entryBase), Math.Min(last, entryLast), ref action);
                    break;
                }
                default:
                {
                    var leaf = _codec.DecodeLeaf(pte, level);
                    var count = 1 << (leaf.SizeLog2 - shift);
                    var runFirst = i & ~(count - 1);
                    action.OnRun(table.AsSpan(runFirst, count), tableBase + ((ulong)runFirst << shift), level, leaf);
                    i = runFirst + count - 1;
                    break;
                }
            }
        }
    }

    private interface ILeafRunAction
    {
        void OnRun(Span<ulong> run, ulong leafIova, int level, PteLeaf leaf);
    }

    private ref struct VisitAction<TVisitor> : ILeafRunAction where TVisitor : ILeafVisitor, allows ref struct
    {
        public TVisitor Visitor;

        public void OnRun(Span<ulong> run, ulong leafIova, int level, PteLeaf leaf) => Visitor.Visit(leafIova, leaf, level, run[0]);
    }

    private ref struct DirtyAction<TSink>(TCodec codec, ulong start, ulong last, bool clear, TSink sink) : ILeafRunAction
        where TSink : IDirtySink, allows ref struct
    {
        public TSink Sink = sink;

        public void OnRun(Span<ulong> run, ulong leafIova, int level, PteLeaf leaf)
        {
            // Hardware sets dirty on the entry it walked through; any entry of a run marks the whole leaf.
            var dirty = false;
            foreach (var pte in run)
                dirty |= codec.IsDirty(pte);
            if (!dirty)
                return;
            var leafLast = leafIova + ((1UL << leaf.SizeLog2) - 1);
            var from = Math.Max(start, leafIova);
            Sink.Dirty(from, Math.Min(last, leafLast) - from + 1);
            if (clear)
                foreach (ref var pte in run)
                    pte = codec.ClearDirty(pte);
        }
    }

    private ref struct BitmapSink(Span<ulong> bitmap, ulong baseIova, int pageShift) : IDirtySink
    {
        private readonly Span<ulong> _bitmap = bitmap;

        public ulong Bytes { get; private set; }

        public void Dirty(ulong iova, ulong length)
        {
            Bytes += length;
            var first = (iova - baseIova) >> pageShift;
            var lastBit = (iova + length - 1 - baseIova) >> pageShift;
            for (var bit = first; bit <= lastBit;)
            {
                var word = (int)(bit >> 6);
                var low = (int)(bit & 63);
                var high = (int)Math.Min(63, (long)(lastBit - (bit - (ulong)low)));
                var mask = (high == 63 ? ulong.MaxValue : (2UL << high) - 1) & ~((1UL << low) - 1);
                _bitmap[word] |= mask;
                bit += (ulong)(high - low + 1);
            }
        }
    }
}
