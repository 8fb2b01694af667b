namespace IommuFd.Core.Drivers.PageTables;

public sealed partial class RadixPageTable<TCodec>
{
    /// <summary>
    /// Walks the whole tree and checks the bookkeeping against it: per-table used counts, size-coded
    /// runs (aligned, identical entries), leaf counts, table count and mapped bytes. Returns the first
    /// problem found, or null. For tests; O(tables).
    /// </summary>
    internal string? Validate()
    {
        var leaves = new long[64];
        var tables = 0;
        var bytes = 0UL;
        var problem = ValidateTable(_root, _top, leaves, ref tables, ref bytes);
        if (problem != null)
            return problem;
        if (tables != _store.Count)
            return $"{tables} tables reachable but {_store.Count} allocated";
        if (bytes != MappedBytes)
            return $"leaves cover 0x{bytes:x} bytes but MappedBytes is 0x{MappedBytes:x}";
        for (var i = 0; i < 64; i++)
            if (leaves[i] != _leafCounts[i])
                return $"{leaves[i]} leaves of 2^{i} found, {_leafCounts[i]} counted";
        var rootUsed = _store.Used(_root);
        if (_top >= _format.StartLevels && (rootUsed == 0 || (rootUsed == 1 && _codec.Kind(_store[_root][0], _top) == PteKind.Table)))
            return $"top level {_top} could have collapsed";
        return null;
    }

    private string? ValidateTable(int slot, int level, long[] leaves, ref int tables, ref ulong bytes)
    {
        tables++;
        var table = _store[slot];
        var used = 0;
        for (var i = 0; i < table.Length; i++)
        {
            var pte = table[i];
            switch (_codec.Kind(pte, level))
            {
                case PteKind.Empty:
                    if (pte != 0)
                        return $"non-zero empty entry {i} in level-{level} table";
                    break;
                case PteKind.Table:
                    if (level == 0)
                        return "table pointer at level 0";
                    used++;
                    var child = _store.SlotOf(_codec.TableAddress(pte));
                    if (_store.Used(child) == 0)
                        return $"empty level-{level - 1} table left in place";
                    var problem = ValidateTable(child, level - 1, leaves, ref tables, ref bytes);
                    if (problem != null)
                        return problem;
                    break;
                default:
                    var leaf = _codec.DecodeLeaf(pte, level);
                    var count = 1 << (leaf.SizeLog2 - _levelShift[level]);
                    if ((i & (count - 1)) != 0 || i + count > table.Length)
                        return $"misaligned run of 2^{leaf.SizeLog2} at entry {i}, level {level}";
                    // Hardware marks accessed/dirty on the one entry it walked through, so compare what software wrote.
                    var written = _codec.WithoutHardwareState(pte);
                    for (var j = 1; j < count; j++)
                        if (_codec.WithoutHardwareState(table[i + j]) != written)
                            return $"run of 2^{leaf.SizeLog2} at entry {i}, level {level} is not uniform";
                    if ((leaf.OutputAddress & ((1UL << leaf.SizeLog2) - 1)) != 0)
                        return $"leaf output 0x{leaf.OutputAddress:x} not aligned to 2^{leaf.SizeLog2}";
                    if ((PageSizes & (1UL << leaf.SizeLog2)) == 0)
                        return $"leaf of 2^{leaf.SizeLog2} is not an allowed page size";
                    leaves[leaf.SizeLog2]++;
                    bytes += 1UL << leaf.SizeLog2;
                    used += count;
                    i += count - 1;
                    break;
            }
        }
        return used == _store.Used(slot) ? null : $"level-{level} table counts {_store.Used(slot)} used entries, has {used}";
    }
}
