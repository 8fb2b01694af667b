namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// x86-64 paging entries as an IOMMU first stage walks them (the format of a VT-d stage-1 table in nesting,
/// and of AMD's guest tables), 4 KiB tables:
/// <list type="bullet">
/// <item>bit 0 P, bit 1 R/W, bit 2 U/S (set: device accesses are user accesses), bit 3 PWT and bit 4 PCD
/// (0: write-back, DMA is coherent), bit 5 A, bit 6 D, bit 7 PS in a PDE / PDPTE (2 MiB / 1 GiB leaf; in a
/// PTE it is PAT and every present PTE is a 4 KiB leaf), bits 12–51 address, bit 63 XD (0: DMA never executes).</item>
/// <item>A present entry is always readable, so a mapping needs Read or Write and Write implies Read.
/// <see cref="IoProt.Cache"/> has no bit (snooping is not a first-stage attribute).</item>
/// <item>Table pointers get P|R/W|U/S|A, the way Linux writes them; leaves start with A and D clear so
/// the walker can set them.</item>
/// </list>
/// </summary>
public readonly struct X86FirstStagePteCodec : IPteCodec
{
    public const ulong Present = 1UL << 0;
    public const ulong Writable = 1UL << 1;
    public const ulong User = 1UL << 2;
    public const ulong WriteThrough = 1UL << 3;
    public const ulong CacheDisable = 1UL << 4;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;
    public const ulong PageSize = 1UL << 7;
    public const ulong ExecuteDisable = 1UL << 63;
    public const ulong AddressMask = ((1UL << 52) - 1) & ~0xfffUL;

    public ulong EncodeTable(ulong tableAddress, int childLevel) =>
        (tableAddress & AddressMask) | Present | Writable | User | Accessed;

    public ulong EncodeLeaf(ulong outputAddress, int sizeLog2, int level, IoProt prot)
    {
        if ((prot & (IoProt.Read | IoProt.Write)) == 0)
            return 0;
        return (outputAddress & AddressMask) | Present | User | ((prot & IoProt.Write) != 0 ? Writable : 0)
            | (level != 0 ? PageSize : 0);
    }

    public PteKind Kind(ulong pte, int level) =>
        (pte & Present) == 0 ? PteKind.Empty
        : level == 0 || (pte & PageSize) != 0 ? PteKind.Leaf
        : PteKind.Table;

    public ulong TableAddress(ulong pte) => pte & AddressMask;

    public PteLeaf DecodeLeaf(ulong pte, int level)
    {
        var prot = IoProt.Read | ((pte & Writable) != 0 ? IoProt.Write : 0);
        // A large page's address field has PAT at bit 12; leaves we write are aligned, so mask to the page.
        var address = pte & AddressMask & ~((1UL << (12 + 9 * level)) - 1);
        return new PteLeaf(address, 12 + 9 * level, prot);
    }

    public int LeafSizeLog2(ulong pte, int level) => 12 + 9 * level;

    public bool IsDirty(ulong pte) => (pte & Dirty) != 0;

    public ulong ClearDirty(ulong pte) => pte & ~Dirty;

    public ulong MarkAccessed(ulong pte, bool write) => pte | Accessed | (write ? Dirty : 0);

    public ulong WithoutHardwareState(ulong pte) => pte & ~(Accessed | Dirty);
}
