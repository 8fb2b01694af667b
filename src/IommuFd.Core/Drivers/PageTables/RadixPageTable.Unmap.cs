namespace IommuFd.Core.Drivers.PageTables;

public sealed partial class RadixPageTable<TCodec>
{
    /// <summary>
    /// Unmaps whatever is mapped in [iova, iova+length) and returns how many bytes that was. A leaf
    /// only partly inside is split: it is removed and the parts outside are mapped again with smaller
    /// pages. Tables left empty are freed. Both arguments must be multiples of the smallest page.
    /// </summary>
    public ulong Unmap(ulong iova, ulong length)
    {
        if (length == 0)
            return 0;
        var last = iova + (length - 1);
        if (((iova | length) & (_smallestPage - 1)) != 0 || last < iova)
            throw new ArgumentException($"unmap 0x{iova:x}+0x{length:x} is not aligned to 0x{_smallestPage:x} or wraps");
        return UnmapInclusive(iova, last);
    }

    /// <summary>Unmaps everything, down to the bare root.</summary>
    public ulong Clear() => UnmapInclusive(0, ulong.MaxValue);

    private ulong UnmapInclusive(ulong iova, ulong last)
    {
        var cover = CoverLast;
        if (iova > cover)
            return 0;
        var removed = UnmapRange(_root, _top, iova, Math.Min(last, cover));
        MappedBytes -= removed;
        Collapse();
        return removed;
    }

    /// <summary>Unmaps [start, last] (inside the table's span) from the table in <paramref name="slot"/>.</summary>
    private ulong UnmapRange(int slot, int level, ulong start, ulong last)
    {
        var table = _store[slot];
        var shift = _levelShift[level];
        var tableBase = start & ~_tableSpanMask[level];
        var end = Index(last, level);
        var removed = 0UL;
        for (var i = Index(start, level); i <= end; i++)
        {
            var pte = table[i];
            switch (_codec.Kind(pte, level))
            {
                case PteKind.Empty:
                    continue;
                case PteKind.Table:
                {
                    var (childStart, childLast) = ClipToEntry(tableBase, i, shift, start, last);
                    var child = _store.SlotOf(_codec.TableAddress(pte));
                    removed += UnmapRange(child, level - 1, childStart, childLast);
                    if (_store.Used(child) == 0)
                    {
                        _store.Free(child);
                        table[i] = 0;
                        _store.Used(slot)--;
                    }
                    break;
                }
                default:
                {
                    var leaf = _codec.DecodeLeaf(pte, level);
                    var count = 1 << (leaf.SizeLog2 - shift);
                    var runFirst = i & ~(count - 1);
                    var leafBase = tableBase + ((ulong)runFirst << shift);
                    var leafLast = leafBase + ((1UL << leaf.SizeLog2) - 1);
                    if (count == 1 && leaf.SizeLog2 == shift && leafBase >= start && leafLast <= last)
                    {
                        // The last entry may reach past the range (it is then split, below): stop before it.
                        var fullEnd = ((last + 1) & ((1UL << shift) - 1)) == 0 ? end : end - 1;
                        var cleared = ClearNaturalLeaves(table, i, fullEnd, level);
                        _store.Used(slot) -= cleared;
                        _leafCounts[shift] -= cleared;
                        removed += (ulong)cleared << shift;
                        i += cleared - 1;
                        break;
                    }
                    var run = table.AsSpan(runFirst, count);
                    var split = start > leafBase || last < leafLast;
                    _mapDirty = split && AnyDirty(run);
                    run.Clear();
                    _store.Used(slot) -= count;
                    _leafCounts[leaf.SizeLog2]--;
                    var cutStart = Math.Max(start, leafBase);
                    var cutLast = Math.Min(last, leafLast);
                    removed += cutLast - cutStart + 1;
                    // Software has no walker to race with, so the split needs no break-before-make.
                    if (leafBase < cutStart)
                        Remap(slot, level, leafBase, cutStart - 1, leaf.OutputAddress, leaf.Prot);
                    if (cutLast < leafLast)
                        Remap(slot, level, cutLast + 1, leafLast, leaf.OutputAddress + (cutLast + 1 - leafBase), leaf.Prot);
                    _mapDirty = false;
                    i = runFirst + count - 1;
                    break;
                }
            }
        }
        return removed;
    }

    /// <summary>
    /// Clears the run of natural-size leaves from entry <paramref name="first"/> (a leaf of one entry, inside the range)
    /// up to <paramref name="end"/> (the last entry wholly inside the range) or the first entry that is not one, and returns how many it cleared. The batched
    /// form of the general case: no split, no size-coded run, counters updated once by the caller.
    /// </summary>
    private int ClearNaturalLeaves(ulong[] table, int first, int end, int level)
    {
        var shift = _levelShift[level];
        var i = first;
        do
        {
            table[i] = 0;
            i++;
        }
        while (i <= end && table[i] is var pte && _codec.Kind(pte, level) == PteKind.Leaf && _codec.LeafSizeLog2(pte, level) == shift);
        return i - first;
    }

    private bool AnyDirty(ReadOnlySpan<ulong> run)
    {
        foreach (var pte in run)
            if (_codec.IsDirty(pte))
                return true;
        return false;
    }

    // Set while an unmap maps back the kept part of a split leaf: unmap cannot fail, so that map is no fault site.
    private bool _remapping;

    /// <summary>Maps back the kept part of a split leaf (keeping its dirty state, so a later dirty read loses no write); it is aligned and its entries were just cleared.</summary>
    private void Remap(int slot, int level, ulong iova, ulong last, ulong outputAddress, IoProt prot)
    {
        _remapping = true;
        var rc = MapRange(slot, level, iova, last, outputAddress, prot);
        _remapping = false;
        if (rc != Errno.Ok)
            throw new InvalidOperationException($"splitting a leaf failed to remap 0x{iova:x}..0x{last:x}");
    }

    /// <summary>
    /// Frees the tables under [start, last] that hold nothing, leaving every leaf alone: what a failed map
    /// allocated before it stopped. Every other table holds something (unmaps free the tables they empty).
    /// </summary>
    private void PruneEmpty(int slot, int level, ulong start, ulong last)
    {
        var table = _store[slot];
        var shift = _levelShift[level];
        var tableBase = start & ~_tableSpanMask[level];
        var end = Index(last, level);
        for (var i = Index(start, level); i <= end; i++)
        {
            if (level == 0 || _codec.Kind(table[i], level) != PteKind.Table)
                continue;
            var (childStart, childLast) = ClipToEntry(tableBase, i, shift, start, last);
            var child = _store.SlotOf(_codec.TableAddress(table[i]));
            PruneEmpty(child, level - 1, childStart, childLast);
            if (_store.Used(child) != 0)
                continue;
            _store.Free(child);
            table[i] = 0;
            _store.Used(slot)--;
        }
    }
}
