namespace IommuFd.Core.Drivers.PageTables;

public sealed partial class RadixPageTable<TCodec>
{
    /// <summary>
    /// Reports every leaf meeting [first, last] whose dirty bit (as <typeparamref name="TBits"/> keeps it)
    /// is set, whole and in IOVA order, and clears the bit when <paramref name="clear"/>. A leaf written
    /// into several entries (a size-coded run) is dirty when any of them is, and is cleared in all.
    /// </summary>
    public void ScanDirty<TBits, TSink>(ulong first, ulong last, bool clear, ref TSink sink)
        where TBits : IPteDirtyBits where TSink : struct, IDirtyLeafSink
    {
        if (first > last || first > CoverLast)
            return;
        ScanDirtyTable<TBits, TSink>(_root, _top, 0, first, Math.Min(last, CoverLast), clear, ref sink);
    }

    /// <summary>
    /// Sets the dirty bit of the leaf translating <paramref name="iova"/>, as the IOMMU does when a
    /// device writes through it (hardware may mark one entry of a run; readers treat any as the
    /// whole leaf). False when nothing translates the IOVA.
    /// </summary>
    public bool MarkDirty<TBits>(ulong iova) where TBits : IPteDirtyBits => SetDirtyBit<TBits>(iova, wholeRun: true);

    /// <summary>Marks only the entry a walk for <paramref name="iova"/> ends on, as hardware may (for tests of the scan).</summary>
    internal bool MarkEntryDirty<TBits>(ulong iova) where TBits : IPteDirtyBits => SetDirtyBit<TBits>(iova, wholeRun: false);

    private bool SetDirtyBit<TBits>(ulong iova, bool wholeRun) where TBits : IPteDirtyBits
    {
        if (iova > CoverLast)
            return false;
        var slot = _root;
        for (var level = _top; ; level--)
        {
            var table = _store[slot];
            var index = Index(iova, level);
            var pte = table[index];
            switch (_codec.Kind(pte, level))
            {
                case PteKind.Empty:
                    return false;
                case PteKind.Table:
                    slot = _store.SlotOf(_codec.TableAddress(pte));
                    break;
                default:
                    // Every entry of a size-coded run carries the bit, so runs stay uniform.
                    var count = wholeRun ? 1 << (_codec.DecodeLeaf(pte, level).SizeLog2 - _levelShift[level]) : 1;
                    foreach (ref var entry in table.AsSpan(index & ~(count - 1), count))
                        entry = TBits.SetDirty(entry);
                    return true;
            }
        }
    }

    private void ScanDirtyTable<TBits, TSink>(int slot, int level, ulong tableBase, ulong first, ulong last, bool clear, ref TSink sink)
        where TBits : IPteDirtyBits where TSink : struct, IDirtyLeafSink
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
                ScanDirtyTable<TBits, TSink>(_store.SlotOf(_codec.TableAddress(pte)), level - 1, entryBase, first, last, clear, ref sink);
                continue;
            }
            // A clean entry needs no more look: a dirty sibling in its run is met in turn. Only the
            // first and last entries look at their whole run, which may reach outside the range.
            if (!TBits.IsDirty(pte) && index != lo && index != end)
                continue;
            var sizeLog2 = _codec.DecodeLeaf(pte, level).SizeLog2;
            var count = 1 << (sizeLog2 - shift);
            var start = index & ~(count - 1);
            var run = table.AsSpan(start, count);
            var dirty = false;
            foreach (var entry in run)
                dirty |= TBits.IsDirty(entry);
            if (dirty)
            {
                if (clear)
                    foreach (ref var entry in run)
                        entry = TBits.ClearDirty(entry);
                sink.Dirty(tableBase + ((ulong)start << shift), 1UL << sizeLog2);
            }
            index = start + count - 1;
        }
    }
}
