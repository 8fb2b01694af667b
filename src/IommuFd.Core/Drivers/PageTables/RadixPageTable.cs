using System.Numerics;
using System.Runtime.CompilerServices;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// A multi-level radix I/O page table, walked from the root through PTEs that hold table
/// addresses exactly as hardware would walk them. Map picks the largest allowed page for each
/// piece; Unmap splits only leaves it cuts through and prunes tables that become empty. Empty
/// entries are always 0. Not thread-safe: the owner serialises every call.
/// </summary>
public sealed partial class RadixPageTable<TCodec> where TCodec : struct, IPteCodec
{
    private readonly PageTableFormat<TCodec> _format;
    private readonly TCodec _codec;
    private readonly TableStore _store;
    private readonly int[] _levelShift;
    private readonly ulong[] _levelSizes;
    private readonly ulong[] _tableSpanMask;
    private readonly ulong _indexMask;
    private readonly ulong _smallestPage;
    private readonly long[] _leafCounts = new long[64];
    private int _root;
    private int _top;

    /// <param name="pageSizes">The leaf sizes Map may use (a subset of the format's); the lowest sets the alignment.</param>
    public RadixPageTable(PageTableFormat<TCodec> format, ulong pageSizes)
    {
        if (pageSizes == 0 || (pageSizes & ~format.LeafSizes) != 0)
            throw new ArgumentException($"page sizes 0x{pageSizes:x} are not all leaf sizes of {format}", nameof(pageSizes));
        _format = format;
        _codec = format.Codec;
        _store = new TableStore(format.GranuleShift);
        PageSizes = pageSizes;
        _smallestPage = pageSizes & (0 - pageSizes);
        _indexMask = (ulong)format.EntriesPerTable - 1;
        _levelShift = new int[format.MaxLevels];
        _levelSizes = new ulong[format.MaxLevels];
        _tableSpanMask = new ulong[format.MaxLevels];
        for (var level = 0; level < format.MaxLevels; level++)
        {
            var shift = format.LevelShift(level);
            var next = format.LevelShift(level + 1);
            _levelShift[level] = shift;
            _tableSpanMask[level] = next >= 64 ? ulong.MaxValue : (1UL << next) - 1;
            // Leaves placed at this level: at least one entry, less than a whole table (that is the parent's job).
            _levelSizes[level] = pageSizes & ~((1UL << shift) - 1) & _tableSpanMask[level];
        }
        _top = format.StartLevels - 1;
        _root = _store.Allocate();
    }

    public PageTableFormat<TCodec> Format => _format;

    /// <summary>Bit n set: Map may use leaves of 2^n bytes.</summary>
    public ulong PageSizes { get; }

    public ulong SmallestPage => _smallestPage;

    /// <summary>Current number of levels (the top grows with the highest IOVA mapped and shrinks back when it is unmapped).</summary>
    public int Levels => _top + 1;

    public ulong RootAddress => _store.AddressOf(_root);

    /// <summary>Tables allocated, the root included.</summary>
    public int TableCount => _store.Count;

    /// <summary>Bytes of PTE storage held, spare tables kept for reuse included.</summary>
    public long TableBytes => _store.TableBytes;

    /// <summary>Bytes of IOVA currently translated.</summary>
    public ulong MappedBytes { get; private set; }

    /// <summary>Leaves of <paramref name="pageSize"/> bytes currently present (a size-coded run counts once).</summary>
    public long LeafCount(ulong pageSize) =>
        BitOperations.IsPow2(pageSize) ? _leafCounts[BitOperations.Log2(pageSize)] : 0;

    /// <summary>The highest IOVA the current top level reaches.</summary>
    private ulong CoverLast
    {
        get
        {
            var bits = _format.CoverageBits(_top);
            return bits >= 64 ? ulong.MaxValue : (1UL << bits) - 1;
        }
    }

    /// <summary>Walks from the root; null when no leaf translates <paramref name="iova"/>.</summary>
    public PageTranslation? Translate(ulong iova)
    {
        if (!FindLeaf(iova, out var table, out var index, out var level))
            return null;
        return TranslationOf(iova, table[index], level);
    }

    /// <summary>Raw entry <paramref name="index"/> of the table at <paramref name="tableAddress"/> (for dumps and tests).</summary>
    public ulong ReadPte(ulong tableAddress, int index) => _store[_store.SlotOf(tableAddress)][index];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Index(ulong iova, int level) => (int)((iova >> _levelShift[level]) & _indexMask);

    /// <summary>
    /// Adds levels on top until <paramref name="last"/> is reachable; the old root becomes entry 0.
    /// False when a new root cannot be had (the levels added so far stay; <see cref="Collapse"/> drops them).
    /// </summary>
    private bool Grow(ulong last)
    {
        while (last > CoverLast)
        {
            if (_store.Used(_root) != 0)
            {
                if (FailNth.ShouldFail(FaultSite.PageTableAlloc))
                    return false;
                var root = _store.Allocate();
                _store[root][0] = _codec.EncodeTable(_store.AddressOf(_root), _top);
                _store.Used(root) = 1;
                _root = root;
            }
            // An empty root is valid at any level, so it simply moves up.
            _top++;
        }
        return true;
    }

    /// <summary>Drops top levels that only lead to entry 0, down to the starting height.</summary>
    private void Collapse()
    {
        while (_top >= _format.StartLevels)
        {
            var used = _store.Used(_root);
            if (used == 0)
            {
                _top--;
                continue;
            }
            var first = _store[_root][0];
            if (used != 1 || _codec.Kind(first, _top) != PteKind.Table)
                return;
            var child = _store.SlotOf(_codec.TableAddress(first));
            _store[_root][0] = 0;
            _store.Used(_root) = 0;
            _store.Free(_root);
            _root = child;
            _top--;
        }
    }
}
