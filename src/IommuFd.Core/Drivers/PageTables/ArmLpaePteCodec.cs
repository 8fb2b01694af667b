namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// Arm VMSAv8-64 translation table descriptors (Arm ARM, "VMSAv8-64 translation table format descriptors"),
/// stage 1 or stage 2, 4 / 16 / 64 KiB granule, 48-bit output:
/// <list type="bullet">
/// <item>bits 1:0: 0b11 a table at levels above the last, a page at the last level (our level 0); 0b01 a block.</item>
/// <item>Stage 1: AttrIndx (4:2) 1 for <see cref="IoProt.Cache"/> (write-back in MAIR) else 0 (non-cacheable); AP[1]
/// (bit 6) set so unprivileged device accesses are allowed; AP[2] (bit 7) read-only; nG (bit 11) set. A valid stage-1
/// entry is always readable, so Write implies Read.</item>
/// <item>Stage 2: MemAttr (5:2) 0b1111 outer/inner write-back for Cache, else 0b0101 non-cacheable; S2AP[0] (bit 6)
/// read, S2AP[1] (bit 7) write.</item>
/// <item>SH (9:8) inner shareable for Cache, else outer; AF (bit 10) set on every leaf we write, so access-flag
/// faults never happen (as Linux's io-pgtable does); output address in bits 47:granule; XN bits 53–54 stay 0.</item>
/// <item>Hardware dirty state (FEAT_HAFDBS): with <c>hardwareDirty</c>, writable leaves carry DBM (bit 51) and start
/// writable-clean (stage 1: AP[2] set; stage 2: S2AP[1] clear); a write makes them dirty (AP[2] cleared / S2AP[1] set).</item>
/// </list>
/// Leaves need Read or Write; neither is refused.
/// </summary>
public readonly struct ArmLpaePteCodec : IPteCodec
{
    public const ulong Valid = 1UL << 0;
    public const ulong TableOrPage = 1UL << 1;
    public const int AttrShift = 2;
    public const ulong AttrMask = 0xfUL << AttrShift;
    public const ulong S1AttrIndxCache = 1UL << AttrShift;
    public const ulong S2MemAttrWriteBack = 0xfUL << AttrShift;
    public const ulong S2MemAttrNonCacheable = 0x5UL << AttrShift;
    public const ulong S1Unprivileged = 1UL << 6;
    public const ulong S1ReadOnly = 1UL << 7;
    public const ulong S2Read = 1UL << 6;
    public const ulong S2Write = 1UL << 7;
    public const ulong ShareInner = 3UL << 8;
    public const ulong ShareOuter = 2UL << 8;
    public const ulong AccessFlag = 1UL << 10;
    public const ulong NotGlobal = 1UL << 11;
    public const ulong DirtyBitModifier = 1UL << 51;
    public const ulong AddressMask48 = (1UL << 48) - 1;

    private readonly ulong _addressMask;
    private readonly int _granuleShift;

    public ArmLpaePteCodec(int stage, int granuleShift, bool hardwareDirty)
    {
        if (stage is not (1 or 2))
            throw new ArgumentOutOfRangeException(nameof(stage), stage, "Arm stages are 1 and 2");
        if (granuleShift is not (12 or 14 or 16))
            throw new ArgumentOutOfRangeException(nameof(granuleShift), granuleShift, "granules are 4, 16 and 64 KiB");
        Stage = stage;
        HardwareDirty = hardwareDirty;
        _granuleShift = granuleShift;
        _addressMask = AddressMask48 & ~((1UL << granuleShift) - 1);
    }

    public int Stage { get; }

    public bool HardwareDirty { get; }

    public int GranuleShift => _granuleShift;

    private bool IsStage1 => Stage == 1;

    public ulong EncodeTable(ulong tableAddress, int childLevel) => (tableAddress & _addressMask) | Valid | TableOrPage;

    public ulong EncodeLeaf(ulong outputAddress, int sizeLog2, int level, IoProt prot)
    {
        var read = (prot & IoProt.Read) != 0;
        var write = (prot & IoProt.Write) != 0;
        if (!read && !write)
            return 0;
        var cache = (prot & IoProt.Cache) != 0;
        var pte = (outputAddress & _addressMask) | Valid | (level == 0 ? TableOrPage : 0) | AccessFlag
            | (cache ? ShareInner : ShareOuter);
        if (IsStage1)
        {
            pte |= NotGlobal | S1Unprivileged | (cache ? S1AttrIndxCache : 0);
            if (!write)
                pte |= S1ReadOnly;
            else if (HardwareDirty)
                pte |= DirtyBitModifier | S1ReadOnly; // writable-clean
        }
        else
        {
            pte |= (cache ? S2MemAttrWriteBack : S2MemAttrNonCacheable) | (read ? S2Read : 0);
            if (write)
                pte |= HardwareDirty ? DirtyBitModifier : S2Write; // DBM alone: writable-clean
        }
        return pte;
    }

    public PteKind Kind(ulong pte, int level)
    {
        if ((pte & Valid) == 0)
            return PteKind.Empty;
        if (level == 0)
            return (pte & TableOrPage) != 0 ? PteKind.Leaf : PteKind.Empty; // 0b01 is reserved at the last level
        return (pte & TableOrPage) != 0 ? PteKind.Table : PteKind.Leaf;
    }

    public ulong TableAddress(ulong pte) => pte & _addressMask;

    public PteLeaf DecodeLeaf(ulong pte, int level)
    {
        var dbm = (pte & DirtyBitModifier) != 0;
        IoProt prot;
        if (IsStage1)
        {
            prot = IoProt.Read | ((pte & S1ReadOnly) == 0 || dbm ? IoProt.Write : 0)
                | ((pte & AttrMask) == S1AttrIndxCache ? IoProt.Cache : 0);
        }
        else
        {
            prot = ((pte & S2Read) != 0 ? IoProt.Read : 0) | ((pte & S2Write) != 0 || dbm ? IoProt.Write : 0)
                | ((pte & AttrMask) == S2MemAttrWriteBack ? IoProt.Cache : 0);
        }
        return new PteLeaf(pte & _addressMask, _granuleShift + level * (_granuleShift - 3), prot);
    }

    public int LeafSizeLog2(ulong pte, int level) => _granuleShift + level * (_granuleShift - 3);

    public bool IsDirty(ulong pte)
    {
        if ((pte & DirtyBitModifier) == 0)
            return false;
        return IsStage1 ? (pte & S1ReadOnly) == 0 : (pte & S2Write) != 0;
    }

    public ulong ClearDirty(ulong pte)
    {
        if ((pte & DirtyBitModifier) == 0)
            return pte;
        return IsStage1 ? pte | S1ReadOnly : pte & ~S2Write;
    }

    public ulong MarkAccessed(ulong pte, bool write)
    {
        pte |= AccessFlag;
        if (!write || (pte & DirtyBitModifier) == 0)
            return pte;
        return IsStage1 ? pte & ~S1ReadOnly : pte | S2Write;
    }

    public ulong WithoutHardwareState(ulong pte) => ClearDirty(pte);
}
