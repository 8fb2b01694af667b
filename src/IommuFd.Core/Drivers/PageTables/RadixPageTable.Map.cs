using System.Numerics;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Core.Drivers.PageTables;

public sealed partial class RadixPageTable<TCodec>
{
    // Everything in [start of the current Map, _mapCursor) was written by that call; rollback unmaps it.
    private ulong _mapCursor;

    // Leaf sizes the current Map may use: all, or those up to its largestPage.
    private ulong _leafCap = ulong.MaxValue;

    // Set while a split re-creates the kept parts of a dirty leaf, so they stay dirty.
    private bool _mapDirty;

    /// <summary>
    /// Maps [iova, iova+length) to output addresses from <paramref name="outputAddress"/>, all or nothing.
    /// EINVAL: iova, output address or length not a multiple of the smallest page, a range that wraps
    /// or leaves the input / output width, or permissions the format cannot hold in a present entry. EEXIST: some part is already mapped. Length 0 is a no-op.
    /// Leaves are no larger than <paramref name="largestPage"/> (never smaller than the smallest page).
    /// </summary>
    public Errno Map(ulong iova, ulong outputAddress, ulong length, IoProt prot, ulong largestPage = ulong.MaxValue)
    {
        if (((iova | outputAddress | length) & (_smallestPage - 1)) != 0)
            return Errno.EINVAL;
        if (length == 0)
            return Errno.Ok;
        var last = iova + (length - 1);
        var outputLast = outputAddress + (length - 1);
        if (last < iova || last > _format.InputLast || outputLast < outputAddress || outputLast > _format.OutputLast)
            return Errno.EINVAL;
        if (_codec.EncodeLeaf(0, _format.GranuleShift, 0, prot) == 0)
            return Errno.EINVAL;

        if (!Grow(last))
        {
            Collapse();
            return Errno.ENOMEM;
        }
        _mapCursor = iova;
        var cap = 1UL << BitOperations.Log2(Math.Max(largestPage, _smallestPage));
        _leafCap = cap | (cap - 1);
        var rc = MapRange(_root, _top, iova, last, outputAddress, prot);
        _leafCap = ulong.MaxValue;
        if (rc != Errno.Ok)
        {
            if (_mapCursor != iova)
                UnmapRange(_root, _top, iova, _mapCursor - 1);
            // Levels allocated past the cursor (for the piece that failed) hold nothing: they go too.
            PruneEmpty(_root, _top, iova, last);
            Collapse();
            return rc;
        }
        MappedBytes += length;
        return Errno.Ok;
    }

    /// <summary>Maps [iova, last] inside the table in <paramref name="slot"/>, left to right.</summary>
    private Errno MapRange(int slot, int level, ulong iova, ulong last, ulong outputAddress, IoProt prot)
    {
        var table = _store[slot];
        var shift = _levelShift[level];
        while (true)
        {
            var index = Index(iova, level);
            var sizeLog2 = PickLeaf(level, iova, outputAddress, last - iova);
            ulong step;
            if (sizeLog2 >= 0)
            {
                var count = 1 << (sizeLog2 - shift);
                var leaves = LeavesInOneGo(level, index, iova, last, sizeLog2, count);
                var run = table.AsSpan(index, leaves * count);
                if (run.IndexOfAnyExcept(0UL) >= 0)
                {
                    // Something in the batch is mapped: go leaf by leaf so the error comes where it would.
                    if (leaves == 1)
                        return Errno.EEXIST;
                    leaves = 1;
                    run = run[..count];
                    if (run.IndexOfAnyExcept(0UL) >= 0)
                        return Errno.EEXIST;
                }
                var leaf = _codec.EncodeLeaf(outputAddress, sizeLog2, level, prot);
                if (leaves == 1)
                    run.Fill(_mapDirty ? _codec.MarkAccessed(leaf, write: true) : leaf);
                else
                    WriteLeaves(run, leaf, outputAddress, sizeLog2, level, prot, leaves, count);
                _store.Used(slot) += leaves * count;
                _leafCounts[sizeLog2] += leaves;
                step = (ulong)leaves << sizeLog2;
                _mapCursor = iova + step;
            }
            else
            {
                if (level == 0)
                    return Errno.EINVAL;
                var pte = table[index];
                int child;
                switch (_codec.Kind(pte, level))
                {
                    case PteKind.Empty:
                        // A table the map needs but cannot get fails it as the kernel's would (the caller rolls back).
                        if (!_remapping && FailNth.ShouldFail(FaultSite.PageTableAlloc))
                            return Errno.ENOMEM;
                        child = _store.Allocate();
                        table[index] = _codec.EncodeTable(_store.AddressOf(child), level - 1);
                        _store.Used(slot)++;
                        break;
                    case PteKind.Table:
                        child = _store.SlotOf(_codec.TableAddress(pte));
                        break;
                    default:
                        return Errno.EEXIST;
                }
                var chunkLast = Math.Min(last, iova | ((1UL << shift) - 1));
                var rc = MapRange(child, level - 1, iova, chunkLast, outputAddress, prot);
                if (rc != Errno.Ok)
                    return rc;
                step = chunkLast - iova + 1;
            }
            if (step - 1 == last - iova)
                return Errno.Ok;
            iova += step;
            outputAddress += step;
        }
    }

    /// <summary>
    /// How many leaves of 2^<paramref name="sizeLog2"/> to write at once. When that is the largest size this level may
    /// use, every following leaf in the table gets the same size too (both addresses stay aligned to it as they
    /// advance), so the run goes to the end of the table or of the range, whichever is first.
    /// </summary>
    private int LeavesInOneGo(int level, int index, ulong iova, ulong last, int sizeLog2, int count)
    {
        if (_mapDirty || BitOperations.Log2(_levelSizes[level] & _leafCap) != sizeLog2)
            return 1;
        var byLength = ((last - iova - ((1UL << sizeLog2) - 1)) >> sizeLog2) + 1;
        var byTable = (ulong)((_format.EntriesPerTable - index) / count);
        return (int)Math.Min(byLength, byTable);
    }

    /// <summary>
    /// Writes <paramref name="leaves"/> consecutive leaves starting with <paramref name="first"/>. Every codec here keeps
    /// the output address in a field linear in the address, so consecutive leaves differ by one constant: checked on the
    /// second and last leaf, otherwise each is encoded.
    /// </summary>
    private void WriteLeaves(Span<ulong> run, ulong first, ulong outputAddress, int sizeLog2, int level, IoProt prot, int leaves, int count)
    {
        var size = 1UL << sizeLog2;
        var step = _codec.EncodeLeaf(outputAddress + size, sizeLog2, level, prot) - first;
        var linear = _codec.EncodeLeaf(outputAddress + (ulong)(leaves - 1) * size, sizeLog2, level, prot) == first + (ulong)(leaves - 1) * step;
        if (count == 1 && linear)
        {
            var pte = first;
            for (var i = 0; i < run.Length; i++, pte += step)
                run[i] = pte;
            return;
        }
        for (var i = 0; i < leaves; i++)
        {
            var pte = linear ? first + (ulong)i * step : _codec.EncodeLeaf(outputAddress + (ulong)i * size, sizeLog2, level, prot);
            run.Slice(i * count, count).Fill(pte);
        }
    }

    /// <summary>
    /// log2 of the largest page placeable at <paramref name="level"/> that both addresses are aligned to
    /// and the remaining length holds; -1 when the piece must go to a lower level.
    /// </summary>
    private int PickLeaf(int level, ulong iova, ulong outputAddress, ulong remainingMinusOne)
    {
        var candidates = _levelSizes[level] & _leafCap;
        if (candidates == 0)
            return -1;
        var both = iova | outputAddress;
        if (both != 0)
        {
            var alignment = both & (0 - both);
            candidates &= alignment | (alignment - 1);
        }
        if (remainingMinusOne != ulong.MaxValue)
        {
            var fits = 1UL << BitOperations.Log2(remainingMinusOne + 1);
            candidates &= fits | (fits - 1);
        }
        return candidates == 0 ? -1 : BitOperations.Log2(candidates);
    }
}
