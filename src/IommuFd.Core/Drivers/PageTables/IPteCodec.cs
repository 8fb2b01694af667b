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
    /// than the level's natural size the walker writes this same value into every entry the page spans.
    /// </summary>
    ulong EncodeLeaf(ulong outputAddress, int sizeLog2, int level, IoProt prot);

    PteKind Kind(ulong pte);

    ulong TableAddress(ulong pte);

    PteLeaf DecodeLeaf(ulong pte, int level);
}
