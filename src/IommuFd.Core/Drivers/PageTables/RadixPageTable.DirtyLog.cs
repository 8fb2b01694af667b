namespace IommuFd.Core.Drivers.PageTables;

public sealed partial class RadixPageTable<TCodec>
{
    /// <summary>
    /// Reports every leaf meeting [first, last] that the format's codec says is dirty, whole and in IOVA
    /// order, and returns it to clean when <paramref name="clear"/>. A leaf written into several entries
    /// (a size-coded run) is dirty when any of them is, and is cleared in all. Allocates nothing.
    /// </summary>
    public void ScanDirty<TSink>(ulong first, ulong last, bool clear, ref TSink sink) where TSink : IDirtyLeafSink, allows ref struct
    {
        if (first > last || first > CoverLast)
            return;
        ScanDirtyTable(_root, _top, 0, first, Math.Min(last, CoverLast), clear, ref sink);
    }

    /// <summary>
    /// Writes back the state a device write through <paramref name="iova"/> leaves in its leaf (accessed and
    /// dirty, as the codec encodes them), as the IOMMU does while tracking. Hardware may mark one entry of a
    /// run; readers treat any as the whole leaf. False when nothing translates the IOVA.
    /// </summary>
    public bool MarkDirty(ulong iova) => SetDirtyBit(iova, wholeRun: true);

    /// <summary>Marks only the entry a walk for <paramref name="iova"/> ends on, as hardware may (for tests of the scan).</summary>
    internal bool MarkEntryDirty(ulong iova) => SetDirtyBit(iova, wholeRun: false);

    /// <summary>
    /// <see cref="ScanDirty{TSink}"/> over [iova, iova+length) into a bitmap: bit n (of 64-bit words, little-endian
    /// bit order) stands for the <paramref name="pageSize"/> page at iova + n × pageSize, as
    /// IOMMU_HWPT_GET_DIRTY_BITMAP lays it out. Dirty leaves are clipped to the range; bits are only ever set.
    /// Returns the dirty bytes found inside the range.
    /// </summary>
    public ulong ReadAndClearDirty(ulong iova, ulong length, ulong pageSize, Span<ulong> bitmap, bool clear)
    {
        if (!System.Numerics.BitOperations.IsPow2(pageSize) || ((iova | length) & (pageSize - 1)) != 0)
            throw new ArgumentException($"range 0x{iova:x}+0x{length:x} is not a multiple of page size 0x{pageSize:x}");
        var pages = length / pageSize;
        if ((ulong)bitmap.Length * 64 < pages)
            throw new ArgumentException($"bitmap of {bitmap.Length} words is too small for {pages} pages", nameof(bitmap));
        if (length == 0)
            return 0;
        var last = iova + (length - 1) < iova ? ulong.MaxValue : iova + (length - 1);
        var sink = new BitmapSink(bitmap, iova, last, System.Numerics.BitOperations.Log2(pageSize));
        ScanDirty(iova, last, clear, ref sink);
        return sink.Bytes;
    }

    private bool SetDirtyBit(ulong iova, bool wholeRun)
    {
        if (!FindLeaf(iova, out var table, out var index, out var level))
            return false;
        // Every entry of a size-coded run carries the state, so runs stay uniform.
        var count = wholeRun ? 1 << (_codec.LeafSizeLog2(table[index], level) - _levelShift[level]) : 1;
        foreach (ref var entry in table.AsSpan(index & ~(count - 1), count))
            entry = _codec.MarkAccessed(entry, write: true);
        return true;
    }

    private void ScanDirtyTable<TSink>(int slot, int level, ulong tableBase, ulong first, ulong last, bool clear, ref TSink sink)
        where TSink : IDirtyLeafSink, allows ref struct
    {
        var table = _store[slot];
        var shift = _levelShift[level];
        var tableLast = tableBase | _tableSpanMask[level];
        var index = first <= tableBase ? 0 : (int)((first - tableBase) >> shift);
        var end = (int)((Math.Min(last, tableLast) - tableBase) >> shift);
        var lo = index;
        for (; index <= end; index++)
        {
            var pte = table[index];
            if (pte == 0)
                continue;
            var kind = _codec.Kind(pte, level);
            if (kind == PteKind.Empty)
                continue;
            if (kind == PteKind.Table)
            {
                var entryBase = tableBase + ((ulong)index << shift);
                ScanDirtyTable(_store.SlotOf(_codec.TableAddress(pte)), level - 1, entryBase, first, last, clear, ref sink);
                continue;
            }
            // A clean entry needs no more look: a dirty sibling in its run is met in turn. Only the
            // first and last entries look at their whole run, which may reach outside the range.
            if (!_codec.IsDirty(pte) && index != lo && index != end)
                continue;
            var sizeLog2 = _codec.LeafSizeLog2(pte, level);
            var count = 1 << (sizeLog2 - shift);
            var start = index & ~(count - 1);
            var run = table.AsSpan(start, count);
            var dirty = false;
            foreach (var entry in run)
                dirty |= _codec.IsDirty(entry);
            if (dirty)
            {
                if (clear)
                    foreach (ref var entry in run)
                        entry = _codec.ClearDirty(entry);
                sink.Dirty(tableBase + ((ulong)start << shift), 1UL << sizeLog2);
            }
            index = start + count - 1;
        }
    }

    /// <summary>Sets the bits of each dirty leaf's overlap with [baseIova, last].</summary>
    private ref struct BitmapSink(Span<ulong> bitmap, ulong baseIova, ulong last, int pageShift) : IDirtyLeafSink
    {
        private readonly Span<ulong> _bitmap = bitmap;

        public ulong Bytes { get; private set; }

        public void Dirty(ulong iova, ulong size)
        {
            var from = Math.Max(iova, baseIova);
            var to = Math.Min(iova + (size - 1), last);
            Bytes += to - from + 1;
            var first = (from - baseIova) >> pageShift;
            var lastBit = (to - baseIova) >> pageShift;
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
