namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// Holds the tables of one page table as granule-sized <c>ulong[]</c>s of little-endian PTEs (the
/// host order on every platform .NET runs on). A table's "physical address" is (slot + 1) × granule,
/// so PTEs point to tables the way hardware would and no table sits at address 0. Freed tables
/// go back to the GC apart from a few kept for reuse, so pruning really returns memory.
/// </summary>
internal sealed class TableStore
{
    private const int SpareLimit = 16;

    private readonly int _granuleShift;
    private readonly int _entries;
    private ulong[]?[] _tables = new ulong[]?[16];
    private int[] _used = new int[16];
    private int[] _freeSlots = new int[16];
    private int _freeCount;
    private int _highWater;
    private readonly Stack<ulong[]> _spares = new();

    public TableStore(int granuleShift)
    {
        _granuleShift = granuleShift;
        _entries = (1 << granuleShift) / 8;
    }

    /// <summary>Tables currently allocated.</summary>
    public int Count { get; private set; }

    /// <summary>Allocates a zeroed table and returns its slot.</summary>
    public int Allocate()
    {
        int slot;
        if (_freeCount != 0)
            slot = _freeSlots[--_freeCount];
        else
        {
            if (_highWater == _tables.Length)
            {
                Array.Resize(ref _tables, _tables.Length * 2);
                Array.Resize(ref _used, _used.Length * 2);
                Array.Resize(ref _freeSlots, _freeSlots.Length * 2);
            }
            slot = _highWater++;
        }
        _tables[slot] = _spares.Count != 0 ? _spares.Pop() : new ulong[_entries];
        _used[slot] = 0;
        Count++;
        return slot;
    }

    /// <summary>Frees an empty (all-zero) table; its slot (and so its address) may be handed out again.</summary>
    public void Free(int slot)
    {
        var table = _tables[slot] ?? throw new InvalidOperationException($"table slot {slot} is not allocated");
        // Only empty tables are freed, and empty entries are 0, so a spare needs no clearing.
        System.Diagnostics.Debug.Assert(table.AsSpan().IndexOfAnyExcept(0UL) < 0, "freeing a table that still has entries");
        if (_spares.Count < SpareLimit)
            _spares.Push(table);
        _tables[slot] = null;
        _freeSlots[_freeCount++] = slot;
        Count--;
    }

    /// <summary>The entries of the table in <paramref name="slot"/>.</summary>
    public ulong[] this[int slot] => _tables[slot]!;

    /// <summary>Number of non-empty entries in the table (a size-coded run counts every entry it spans).</summary>
    public ref int Used(int slot) => ref _used[slot];

    public ulong AddressOf(int slot) => (ulong)(slot + 1) << _granuleShift;

    public int SlotOf(ulong address) => (int)(address >> _granuleShift) - 1;

    /// <summary>Bytes held by live tables and the spare pool (entries only, not object headers).</summary>
    public long TableBytes => (long)(Count + _spares.Count) << _granuleShift;
}
