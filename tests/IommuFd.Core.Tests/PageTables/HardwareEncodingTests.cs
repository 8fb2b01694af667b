using IommuFd.Core;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Tests.PageTables;

/// <summary>
/// Entries computed by hand from the architecture specifications: map one page into a fresh table of the
/// format, walk the raw tables from the root the way hardware does, and compare the 64-bit values.
/// The first table a fresh table allocates below the root sits at 2 × granule (the root is at 1 × granule).
/// </summary>
public sealed class HardwareEncodingTests
{
    private const IoProt R = IoProt.Read, W = IoProt.Write, C = IoProt.Cache;
    private const ulong K4 = 1UL << 12, M2 = 1UL << 21, G1 = 1UL << 30;

    // VT-d second stage: R bit 0, W bit 1, PS bit 7, SNP bit 11; table pointers R|W.
    [Theory]
    [InlineData(0x1234_5000UL, K4, R | W, 0x0000_0000_1234_5003UL)]
    [InlineData(0xA_BCDE_F000UL, K4, R | C, 0x0000_000A_BCDE_F801UL)]
    [InlineData(0x4020_0000UL, M2, W, 0x0000_0000_4020_0082UL)]
    [InlineData(0x1_C000_0000UL, G1, R | W | C, 0x0000_0001_C000_0883UL)]
    [InlineData(0xF_FFFF_FFFF_F000UL, K4, R, 0x000F_FFFF_FFFF_F001UL)]
    public void VtdSecondStageEntries(ulong address, ulong size, IoProt prot, ulong leaf)
    {
        Check(VtdSecondStage4(), address, size, prot, leaf, rootPointer: 0x2003);
        Check(new RadixPageTable<VtdSecondStagePteCodec>(VtdSecondStage.FiveLevel, VtdSecondStage.PageSizes),
            address, size, prot, leaf, rootPointer: 0x2003);
    }

    // x86-64: P bit 0, R/W bit 1, U/S bit 2, PS bit 7; table pointers P|R/W|U/S|A; no cache bit.
    [Theory]
    [InlineData(0x1234_5000UL, K4, R, 0x0000_0000_1234_5005UL)]
    [InlineData(0x1234_5000UL, K4, R | W | C, 0x0000_0000_1234_5007UL)]
    [InlineData(0x4020_0000UL, M2, W, 0x0000_0000_4020_0087UL)]
    [InlineData(0x1_C000_0000UL, G1, R, 0x0000_0001_C000_0085UL)]
    public void X86FirstStageEntries(ulong address, ulong size, IoProt prot, ulong leaf)
    {
        Check(new RadixPageTable<X86FirstStagePteCodec>(X86FirstStage.FourLevel, X86FirstStage.PageSizes),
            address, size, prot, leaf, rootPointer: 0x2027);
        Check(new RadixPageTable<X86FirstStagePteCodec>(X86FirstStage.FiveLevel, X86FirstStage.PageSizes),
            address, size, prot, leaf, rootPointer: 0x2027);
    }

    // AMD v1 host, mode 4: PR bit 0, NextLevel 11:9 (7 = size-coded), FC bit 60, IR 61, IW 62.
    // The root (AMD level 4) points to a level-3 table: NextLevel 3 with PR|IR|IW.
    [Theory]
    [InlineData(0x1234_5000UL, K4, R | W, 0x6000_0000_1234_5001UL)]
    [InlineData(0x1234_5000UL, K4, R | W | C, 0x7000_0000_1234_5001UL)]
    [InlineData(0x4020_0000UL, M2, R, 0x2000_0000_4020_0001UL)]
    [InlineData(0x10_0000UL, 2 * K4, W, 0x4000_0000_0010_0E01UL)] // 8 KiB: frame 0x100, no size ones
    [InlineData(0x10_0000UL, 4 * K4, R, 0x2000_0000_0010_1E01UL)] // 16 KiB: one size one (bit 12)
    [InlineData(0x1_0000_0000UL, 4 * G1, R | W, 0x6000_0001_7FFF_FE01UL)] // 4 GiB: 19 size ones, bit 31 clear
    public void AmdV1HostEntries(ulong address, ulong size, IoProt prot, ulong leaf) =>
        Check(new RadixPageTable<AmdV1PteCodec>(AmdV1Formats.Host4Level, AmdV1Formats.Host4Level.LeafSizes),
            address, size, prot, leaf, rootPointer: 0x6000_0000_0000_2601);

    // Arm stage 1: page 0b11 / block 0b01, AttrIndx 4:2 (1 = cacheable), AP[1] bit 6, AP[2] bit 7 (read-only),
    // SH 9:8 (3 inner for cacheable, 2 outer), AF bit 10, nG bit 11, DBM bit 51.
    [Theory]
    [InlineData(0x1234_5000UL, K4, R, false, 0x0000_0000_1234_5EC3UL)]
    [InlineData(0x1234_5000UL, K4, R | W | C, false, 0x0000_0000_1234_5F47UL)]
    [InlineData(0x4020_0000UL, M2, R | W, false, 0x0000_0000_4020_0E41UL)]
    [InlineData(0x1_C000_0000UL, G1, R | C, false, 0x0000_0001_C000_0FC5UL)]
    [InlineData(0x1234_5000UL, K4, R | W, true, 0x0008_0000_1234_5EC3UL)] // writable-clean: DBM with AP[2] set
    [InlineData(0x1234_5000UL, K4, R, true, 0x0000_0000_1234_5EC3UL)] // read-only: no DBM
    public void ArmStage1Granule4K(ulong address, ulong size, IoProt prot, bool dbm, ulong leaf) =>
        Check(new RadixPageTable<ArmLpaePteCodec>(ArmLpae.Create(1, 12, 48, dbm), ArmLpae.PageSizes(12)),
            address, size, prot, leaf, rootPointer: 0x2003);

    // Arm stage 2: MemAttr 5:2 (0b1111 write-back, 0b0101 non-cacheable), S2AP[0] bit 6 read, S2AP[1] bit 7 write.
    [Theory]
    [InlineData(0x1234_5000UL, K4, R, false, 0x0000_0000_1234_5657UL)]
    [InlineData(0x1234_5000UL, K4, R | W | C, false, 0x0000_0000_1234_57FFUL)]
    [InlineData(0x4020_0000UL, M2, W, false, 0x0000_0000_4020_0695UL)]
    [InlineData(0x1234_5000UL, K4, R | W, true, 0x0008_0000_1234_5657UL)] // writable-clean: DBM, S2AP[1] clear
    public void ArmStage2Granule4K(ulong address, ulong size, IoProt prot, bool dbm, ulong leaf) =>
        Check(new RadixPageTable<ArmLpaePteCodec>(ArmLpae.Create(2, 12, 48, dbm), ArmLpae.PageSizes(12)),
            address, size, prot, leaf, rootPointer: 0x2003);

    [Fact]
    public void ArmOtherGranules()
    {
        // 64 KiB granule, 48 bits: 3 levels (start level 1); a stage-2 64 KiB page, read-only, non-cacheable.
        var s2 = new RadixPageTable<ArmLpaePteCodec>(ArmLpae.Stage2_64K, ArmLpae.PageSizes(16));
        Assert.Equal(3, s2.Levels);
        Check(s2, 0x1234_0000, 1UL << 16, R, 0x0000_0000_1234_0657, rootPointer: 0x2_0003);
        // 16 KiB granule, 48 bits: 4 levels; a stage-1 32 MiB block, read-only.
        var s1 = new RadixPageTable<ArmLpaePteCodec>(ArmLpae.Stage1_16K, ArmLpae.PageSizes(14));
        Assert.Equal(4, s1.Levels);
        Check(s1, 0x4200_0000, 1UL << 25, R, 0x0000_0000_4200_0EC1, rootPointer: 0x8003);
    }

    [Fact]
    public void DirtyAndAccessedBits()
    {
        // Each format's leaf after a write through it, from the clean values above.
        Assert.Equal(0x0000_0000_1234_5303UL, default(VtdSecondStagePteCodec).MarkAccessed(0x1234_5003, write: true));
        Assert.Equal(0x0000_0000_1234_5103UL, default(VtdSecondStagePteCodec).MarkAccessed(0x1234_5003, write: false));
        Assert.Equal(0x0000_0000_1234_5067UL, default(X86FirstStagePteCodec).MarkAccessed(0x1234_5007, write: true));
        Assert.Equal(0x6000_0000_1234_5061UL, new AmdV1PteCodec(12).MarkAccessed(0x6000_0000_1234_5001, write: true));
        var s1 = new ArmLpaePteCodec(1, 12, hardwareDirty: true);
        Assert.Equal(0x0008_0000_1234_5E43UL, s1.MarkAccessed(0x0008_0000_1234_5EC3, write: true)); // AP[2] cleared
        Assert.True(s1.IsDirty(0x0008_0000_1234_5E43));
        Assert.Equal(0x0008_0000_1234_5EC3UL, s1.ClearDirty(0x0008_0000_1234_5E43));
        Assert.False(s1.IsDirty(0x0000_0000_1234_5E43)); // writable without DBM is not tracked
        var s2 = new ArmLpaePteCodec(2, 12, hardwareDirty: true);
        Assert.Equal(0x0008_0000_1234_56D7UL, s2.MarkAccessed(0x0008_0000_1234_5657, write: true)); // S2AP[1] set
        Assert.Equal(0x0008_0000_1234_5657UL, s2.ClearDirty(0x0008_0000_1234_56D7));
    }

    [Fact]
    public void LevelsFollowTheAddressWidth()
    {
        Assert.Equal(4, VtdSecondStage4().Levels);
        Assert.Equal(5, new RadixPageTable<VtdSecondStagePteCodec>(VtdSecondStage.FiveLevel, VtdSecondStage.PageSizes).Levels);
        Assert.Equal(3, VtdSecondStage.ForAddressWidth(39).MaxLevels);
        Assert.Equal([3, 4, 5, 6], new[] { 39, 48, 57, 64 }.Select(w => AmdV1Formats.Host(w).MaxLevels));
        Assert.Equal(4, AmdV1Formats.Host(40).MaxLevels);
        Assert.Equal(3, ArmLpae.Create(1, 12, 39).MaxLevels);
        Assert.True(ArmLpae.Stage1_4K.FixedLevels);
        Assert.False(AmdV1Formats.Mock2K.FixedLevels);
        // A fixed table never grows or shrinks: an IOVA at the top of the input maps and unmaps at 4 levels.
        var t = VtdSecondStage4();
        Assert.Equal(Errno.Ok, t.Map((1UL << 48) - K4, 0x1000, K4, R));
        Assert.Equal(4, t.Levels);
        Assert.Equal(Errno.EINVAL, t.Map(1UL << 48, 0x1000, K4, R));
        Assert.Equal(K4, t.Unmap((1UL << 48) - K4, K4));
        Assert.Equal(4, t.Levels);
        Assert.Equal(1, t.TableCount);
    }

    [Fact]
    public void PermissionsAFormatCannotHoldAreRefused()
    {
        Assert.Equal(Errno.EINVAL, VtdSecondStage4().Map(0, 0, K4, IoProt.None));
        Assert.Equal(Errno.EINVAL, VtdSecondStage4().Map(0, 0, K4, IoProt.Cache));
        Assert.Equal(Errno.EINVAL, new RadixPageTable<X86FirstStagePteCodec>(X86FirstStage.FourLevel, K4).Map(0, 0, K4, IoProt.None));
        Assert.Equal(Errno.EINVAL, new RadixPageTable<ArmLpaePteCodec>(ArmLpae.Stage2_4K, K4).Map(0, 0, K4, IoProt.None));
    }

    private static RadixPageTable<VtdSecondStagePteCodec> VtdSecondStage4() =>
        new(VtdSecondStage.FourLevel, VtdSecondStage.PageSizes);

    /// <summary>Maps one page (IOVA = the output address modulo 2^39) and checks the raw root pointer and leaf.</summary>
    private static void Check<TCodec>(RadixPageTable<TCodec> table, ulong address, ulong size, IoProt prot, ulong leaf, ulong rootPointer)
        where TCodec : struct, IPteCodec
    {
        var iova = address & ((1UL << 39) - 1);
        Assert.Equal(Errno.Ok, table.Map(iova, address, size, prot));
        var path = RawWalk(table, iova);
        Assert.Equal(rootPointer, path[0]);
        Assert.Equal(leaf, path[^1]);
        var leafLevel = table.Levels - path.Count;
        var f = table.Format;
        Assert.Equal(size, 1UL << Math.Max(f.LevelShift(leafLevel), System.Numerics.BitOperations.Log2(size)));
        Assert.Equal(address, table.Translate(iova)!.Value.OutputAddress);
        Assert.Equal(size, table.MappedBytes);
    }

    /// <summary>The entries a hardware walker reads for <paramref name="iova"/>, root first, down to the leaf.</summary>
    internal static List<ulong> RawWalk<TCodec>(RadixPageTable<TCodec> table, ulong iova) where TCodec : struct, IPteCodec
    {
        var f = table.Format;
        var codec = f.Codec;
        var address = table.RootAddress;
        var path = new List<ulong>();
        for (var level = table.Levels - 1; level >= 0; level--)
        {
            var pte = table.ReadPte(address, (int)((iova >> f.LevelShift(level)) & (ulong)(f.EntriesPerTable - 1)));
            path.Add(pte);
            if (codec.Kind(pte, level) != PteKind.Table)
                break;
            address = codec.TableAddress(pte);
        }
        return path;
    }
}
