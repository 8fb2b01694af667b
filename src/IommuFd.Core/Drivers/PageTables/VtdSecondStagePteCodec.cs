namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// Intel VT-d second-stage paging entries (VT-d spec, "Second-Stage Paging Entries"), 4 KiB tables:
/// <list type="bullet">
/// <item>bit 0 R, bit 1 W. There is no present bit: an entry with neither R nor W is not present, so a
/// mapping needs at least one of them. Table pointers carry R|W because permissions AND down the walk.</item>
/// <item>bit 7 PS in SS-PDE / SS-PDPTE: a 2 MiB / 1 GiB leaf instead of a table pointer. In an SS-PTE
/// (level 0) the bit has no such meaning and every present entry is a 4 KiB leaf.</item>
/// <item>bit 8 A and bit 9 D: set by the hardware on the leaf when accessed/dirty tracking is on
/// (only on leaves here). bit 11 SNP: snoop forced, from <see cref="IoProt.Cache"/>.</item>
/// <item>bits 12–51: the page or table address. EMT (3–5) and IPAT (6) stay 0, as Linux leaves them.</item>
/// </list>
/// </summary>
public readonly struct VtdSecondStagePteCodec : IPteCodec
{
    public const ulong Read = 1UL << 0;
    public const ulong Write = 1UL << 1;
    public const ulong PageSize = 1UL << 7;
    public const ulong Accessed = 1UL << 8;
    public const ulong Dirty = 1UL << 9;
    public const ulong Snoop = 1UL << 11;
    public const ulong AddressMask = ((1UL << 52) - 1) & ~0xfffUL;

    public ulong EncodeTable(ulong tableAddress, int childLevel) => (tableAddress & AddressMask) | Read | Write;

    public ulong EncodeLeaf(ulong outputAddress, int sizeLog2, int level, IoProt prot)
    {
        var access = ((prot & IoProt.Read) != 0 ? Read : 0) | ((prot & IoProt.Write) != 0 ? Write : 0);
        if (access == 0)
            return 0;
        return (outputAddress & AddressMask) | access | (level != 0 ? PageSize : 0) | ((prot & IoProt.Cache) != 0 ? Snoop : 0);
    }

    public PteKind Kind(ulong pte, int level) =>
        (pte & (Read | Write)) == 0 ? PteKind.Empty
        : level == 0 || (pte & PageSize) != 0 ? PteKind.Leaf
        : PteKind.Table;

    public ulong TableAddress(ulong pte) => pte & AddressMask;

    public PteLeaf DecodeLeaf(ulong pte, int level)
    {
        var prot = ((pte & Read) != 0 ? IoProt.Read : 0) | ((pte & Write) != 0 ? IoProt.Write : 0)
            | ((pte & Snoop) != 0 ? IoProt.Cache : 0);
        return new PteLeaf(pte & AddressMask, 12 + 9 * level, prot);
    }

    public int LeafSizeLog2(ulong pte, int level) => 12 + 9 * level;

    public bool IsDirty(ulong pte) => (pte & Dirty) != 0;

    public ulong ClearDirty(ulong pte) => pte & ~Dirty;

    public ulong MarkAccessed(ulong pte, bool write) => pte | Accessed | (write ? Dirty : 0);

    public ulong WithoutHardwareState(ulong pte) => pte & ~(Accessed | Dirty);
}
