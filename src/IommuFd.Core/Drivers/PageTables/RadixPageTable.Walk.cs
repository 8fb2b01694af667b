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
        if (!FindLeaf(iova, out var table, out var index, out var level))
        {
            translation = default;
            return PageWalkStatus.NotMapped;
        }
        var pte = table[index];
        translation = TranslationOf(iova, pte, level);
        if ((translation.Prot & (write ? IoProt.Write : IoProt.Read)) == 0)
            return PageWalkStatus.PermissionDenied;
        if (setAccessedDirty)
            table[index] = _codec.MarkAccessed(pte, write);
        return PageWalkStatus.Translated;
    }

    /// <summary>
    /// Walks from the root to the entry that translates <paramref name="iova"/>: <c>table[index]</c>, a leaf at
    /// <paramref name="level"/>. False when the walk stops on an empty entry (or the IOVA is beyond the table).
    /// </summary>
    private bool FindLeaf(ulong iova, out ulong[] table, out int index, out int level)
    {
        table = [];
        index = 0;
        level = _top;
        if (iova > CoverLast)
            return false;
        var slot = _root;
        while (true)
        {
            table = _store[slot];
            index = Index(iova, level);
            var pte = table[index];
            switch (_codec.Kind(pte, level))
            {
                case PteKind.Empty:
                    return false;
                case PteKind.Table:
                    if (level == 0)
                        throw new InvalidOperationException($"table pointer at level 0 for 0x{iova:x}");
                    slot = _store.SlotOf(_codec.TableAddress(pte));
                    level--;
                    break;
                default:
                    return true;
            }
        }
    }

    /// <summary>What the leaf <paramref name="pte"/> at <paramref name="level"/> makes of <paramref name="iova"/>.</summary>
    private PageTranslation TranslationOf(ulong iova, ulong pte, int level)
    {
        var leaf = _codec.DecodeLeaf(pte, level);
        var mask = (1UL << leaf.SizeLog2) - 1;
        return new PageTranslation(leaf.OutputAddress + (iova & mask), leaf.Prot, mask + 1);
    }

    /// <summary>
    /// The part of [<paramref name="start"/>, <paramref name="last"/>] under entry <paramref name="index"/> of a
    /// table that starts at <paramref name="tableBase"/> and whose entries each span 1 &lt;&lt; <paramref name="shift"/>.
    /// </summary>
    private static (ulong Start, ulong Last) ClipToEntry(ulong tableBase, int index, int shift, ulong start, ulong last)
    {
        var entryBase = tableBase + ((ulong)index << shift);
        var entryLast = entryBase + ((1UL << shift) - 1);
        return (Math.Max(start, entryBase), Math.Min(last, entryLast));
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
                    var (childStart, childLast) = ClipToEntry(tableBase, i, shift, start, last);
                    ForEachLeaf(_store.SlotOf(_codec.TableAddress(pte)), level - 1, childStart, childLast, ref action);
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
}
