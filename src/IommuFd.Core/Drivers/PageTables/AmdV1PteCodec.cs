using System.Numerics;

namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// AMD IOMMU v1 style entries, generalised to any granule:
/// <list type="bullet">
/// <item>bit 0 PR (present); bits 9–11 NextLevel; bits 12–51 address field; bit 60 FC (<see cref="IoProt.Cache"/>),
/// bit 61 IR (read), bit 62 IW (write); bit 5 A (accessed) and bit 6 D (dirty), set by the hardware on leaves.</item>
/// <item>The address field holds address &gt;&gt; granule shift (the frame number). With AMD's 4 KiB granule that is the
/// usual PA bits 12–51; with the mock's 2 KiB granule it holds PA bits 11–50, so the output is 51 bits wide.</item>
/// <item>NextLevel 1–6: a table pointer; the value is the child's AMD level (our 0-based level + 1). Pointers carry IR|IW
/// because the hardware ANDs permissions down the walk.</item>
/// <item>NextLevel 0: a leaf of the level's natural size.</item>
/// <item>NextLevel 7: a leaf larger than the level's natural size, written into every entry it spans. Its size is
/// coded in the frame's low bits: k ones then a zero give granule &lt;&lt; (k + 1), e.g. a clear bit 0 means two granules.</item>
/// </list>
/// </summary>
public readonly struct AmdV1PteCodec(int granuleShift) : IPteCodec
{
    public const ulong Present = 1UL << 0;
    public const ulong Accessed = 1UL << 5;
    public const ulong Dirty = 1UL << 6;
    public const int NextLevelShift = 9;
    public const ulong NextLevelMask = 7UL << NextLevelShift;
    public const int AddressShift = 12;
    public const int AddressBits = 40;
    public const ulong AddressMask = ((1UL << AddressBits) - 1) << AddressShift;
    public const ulong ForceCoherent = 1UL << 60;
    public const ulong IoRead = 1UL << 61;
    public const ulong IoWrite = 1UL << 62;
    public const int NextLevelSizeCoded = 7;

    private readonly int _granuleShift = granuleShift;

    public int GranuleShift => _granuleShift;

    public ulong EncodeTable(ulong tableAddress, int childLevel) =>
        Present | IoRead | IoWrite | ((ulong)(childLevel + 1) << NextLevelShift) | Field(tableAddress >> _granuleShift);

    public ulong EncodeLeaf(ulong outputAddress, int sizeLog2, int level, IoProt prot)
    {
        var frame = outputAddress >> _granuleShift;
        var pte = Present | ProtBits(prot);
        if (sizeLog2 == NaturalShift(level))
            return pte | Field(frame);
        // The page is aligned to its size, so the low frame bits are free to carry the size code.
        var ones = (1UL << (sizeLog2 - _granuleShift - 1)) - 1;
        return pte | ((ulong)NextLevelSizeCoded << NextLevelShift) | Field(frame | ones);
    }

    public PteKind Kind(ulong pte, int level)
    {
        if ((pte & Present) == 0)
            return PteKind.Empty;
        var next = (int)((pte & NextLevelMask) >> NextLevelShift);
        return next is 0 or NextLevelSizeCoded ? PteKind.Leaf : PteKind.Table;
    }

    public ulong TableAddress(ulong pte) => ((pte & AddressMask) >> AddressShift) << _granuleShift;

    public PteLeaf DecodeLeaf(ulong pte, int level)
    {
        var frame = (pte & AddressMask) >> AddressShift;
        var prot = ((pte & IoRead) != 0 ? IoProt.Read : 0) | ((pte & IoWrite) != 0 ? IoProt.Write : 0)
            | ((pte & ForceCoherent) != 0 ? IoProt.Cache : 0);
        if ((pte & NextLevelMask) >> NextLevelShift != NextLevelSizeCoded)
            return new PteLeaf(frame << _granuleShift, NaturalShift(level), prot);
        var ones = BitOperations.TrailingZeroCount(~frame);
        var sizeFrames = 2UL << ones;
        return new PteLeaf((frame & ~(sizeFrames - 1)) << _granuleShift, _granuleShift + ones + 1, prot);
    }

    public int LeafSizeLog2(ulong pte, int level) =>
        (pte & NextLevelMask) >> NextLevelShift != NextLevelSizeCoded
            ? NaturalShift(level)
            : _granuleShift + BitOperations.TrailingZeroCount(~((pte & AddressMask) >> AddressShift)) + 1;

    public bool IsDirty(ulong pte) => (pte & Dirty) != 0;

    public ulong ClearDirty(ulong pte) => pte & ~Dirty;

    public ulong MarkAccessed(ulong pte, bool write) => pte | Accessed | (write ? Dirty : 0);

    public ulong WithoutHardwareState(ulong pte) => pte & ~(Accessed | Dirty);

    private int NaturalShift(int level) => _granuleShift + level * (_granuleShift - 3);

    private static ulong Field(ulong frame) => (frame << AddressShift) & AddressMask;

    private static ulong ProtBits(IoProt prot) =>
        ((prot & IoProt.Read) != 0 ? IoRead : 0) | ((prot & IoProt.Write) != 0 ? IoWrite : 0)
        | ((prot & IoProt.Cache) != 0 ? ForceCoherent : 0);
}
