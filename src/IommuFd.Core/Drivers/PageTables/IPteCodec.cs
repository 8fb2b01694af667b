namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// Encodes and decodes one 8-byte page table entry. Implemented by readonly structs so the
/// generic walker is specialised per format and every call inlines. Levels are 0-based: level 0
/// entries map granule-sized pages.
/// </summary>
public interface IPteCodec
{
    /// <summary>An entry at some level pointing to the table at <paramref name="tableAddress"/> of level <paramref name="childLevel"/>.</summary>
    ulong EncodeTable(ulong tableAddress, int childLevel);

    /// <summary>
    /// A leaf entry at <paramref name="level"/> for a page of 2^<paramref name="sizeLog2"/> bytes. When the page is larger
    /// than the level's natural size the walker writes this same value into every entry the page spans. Returns 0 when
    /// the format cannot hold <paramref name="prot"/> as a present entry (the walker then refuses the map).
    /// </summary>
    ulong EncodeLeaf(ulong outputAddress, int sizeLog2, int level, IoProt prot);

    /// <summary>What the entry is at <paramref name="level"/> (several formats reuse a bit's meaning per level).</summary>
    PteKind Kind(ulong pte, int level);

    ulong TableAddress(ulong pte);

    /// <summary>The leaf's page; its permissions are what a device may do now (a writable-clean ARM entry is writable).</summary>
    PteLeaf DecodeLeaf(ulong pte, int level);

    /// <summary>log2 of the leaf's page size: <see cref="DecodeLeaf"/>'s size alone, for hot loops that need nothing else.</summary>
    int LeafSizeLog2(ulong pte, int level);

    /// <summary>True when the hardware would report the leaf as written since its dirty state was last cleared.</summary>
    bool IsDirty(ulong pte);

    /// <summary>The leaf back in its clean state (dirty-bit formats clear D; ARM DBM returns to writable-clean).</summary>
    ulong ClearDirty(ulong pte);

    /// <summary>
    /// The leaf as the hardware writes it back after an access through it: accessed set, and dirty set when
    /// <paramref name="write"/> (the caller has checked the leaf permits the write). Formats without the state return it unchanged.
    /// </summary>
    ulong MarkAccessed(ulong pte, bool write);

    /// <summary>The leaf without the state hardware sets on its own (accessed, dirty): what software wrote.</summary>
    ulong WithoutHardwareState(ulong pte);
}
