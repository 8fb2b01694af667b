using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Tests.Drivers;

/// <summary>The AMD v1 style bit layout, checked on raw entries read back from real walks.</summary>
public sealed class AmdV1PteCodecTests
{
    private const ulong Present = 1, IR = 1UL << 61, IW = 1UL << 62, FC = 1UL << 60;
    private const ulong Field = ((1UL << 40) - 1) << 12;

    private static int NextLevel(ulong pte) => (int)((pte >> 9) & 7);

    private static ulong Frame(ulong pte) => (pte & Field) >> 12;

    /// <summary>Follows table pointers from the root down to <paramref name="leafLevel"/>, checking each pointer's bits.</summary>
    private static ulong[] WalkTo(RadixPageTable<AmdV1PteCodec> table, ulong iova, int leafLevel)
    {
        var f = table.Format;
        var address = table.RootAddress;
        for (var level = table.Levels - 1; level > leafLevel; level--)
        {
            var pte = table.ReadPte(address, (int)((iova >> f.LevelShift(level)) & (ulong)(f.EntriesPerTable - 1)));
            Assert.Equal(Present | IR | IW, pte & (Present | IR | IW | FC));
            Assert.Equal(level, NextLevel(pte)); // the child's AMD level is our 0-based level - 1, plus 1
            address = Frame(pte) << f.GranuleShift;
        }
        var first = (int)((iova >> f.LevelShift(leafLevel)) & (ulong)(f.EntriesPerTable - 1));
        return Enumerable.Range(0, f.EntriesPerTable - first).Select(i => table.ReadPte(address, first + i)).ToArray();
    }

    [Fact]
    public void DefaultTwoKibLeafHoldsTheFrameOfElevenBits()
    {
        var d = new MockDomain(MockPageTableType.Default);
        const ulong oa = 0x1234_5800;
        Assert.Equal(Errno.Ok, d.Map(0x100_0000, oa, 2048, IoProt.Read));
        var leaf = WalkTo(d.PageTable, 0x100_0000, 0)[0];
        Assert.Equal(Present | IR | ((oa >> 11) << 12), leaf); // NextLevel 0, no IW
        Assert.Equal(0, NextLevel(leaf));
    }

    [Fact]
    public void HugeSizeCodedRunsAreReplicated()
    {
        var d = new MockDomain(MockPageTableType.Huge);
        // A 4 KiB page is two 2 KiB entries with NextLevel 7 and frame bit 0 clear.
        Assert.Equal(Errno.Ok, d.Map(0x2000, 0x40_0000, 4096, IoProt.Read | IoProt.Write | IoProt.Cache));
        var entries = WalkTo(d.PageTable, 0x2000, 0);
        Assert.Equal(entries[0], entries[1]);
        Assert.Equal(0UL, entries[2]);
        Assert.Equal(7, NextLevel(entries[0]));
        Assert.Equal(0x40_0000UL >> 11, Frame(entries[0]));
        Assert.Equal(Present | IR | IW | FC, entries[0] & (Present | IR | IW | FC));

        // A 1 MiB page is two 512 KiB level-1 entries; the frame's low 8 bits are ones, bit 8 clear.
        Assert.Equal(Errno.Ok, d.Map(0x10_0000, 0x4000_0000, 1UL << 20, IoProt.Write));
        entries = WalkTo(d.PageTable, 0x10_0000, 1);
        Assert.Equal(entries[0], entries[1]);
        Assert.Equal(7, NextLevel(entries[0]));
        Assert.Equal((0x4000_0000UL >> 11) | 0xff, Frame(entries[0]));
        Assert.Equal(IW, entries[0] & (IR | IW | FC));
    }

    [Fact]
    public void AmdV1NaturalLeavesUseNextLevelZero()
    {
        var d = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(Errno.Ok, d.Map(0x20_0000, 0x8000_0000, 2UL << 20, IoProt.Read));
        var twoMiB = WalkTo(d.PageTable, 0x20_0000, 1)[0];
        Assert.Equal(Present | IR | (0x8000_0000UL), twoMiB); // 4 KiB granule: field = PA bits 12-51 in place
        Assert.Equal(Errno.Ok, d.Map(1UL << 30, 1UL << 30, 1UL << 30, IoProt.Read));
        Assert.Equal(Present | IR | (1UL << 30), WalkTo(d.PageTable, 1UL << 30, 2)[0]);
        Assert.Equal(Errno.Ok, d.Map(0x1_0000, 0x1_0000, 8192, IoProt.Read)); // 8 KiB: NextLevel 7, bit 12 clear
        var eight = WalkTo(d.PageTable, 0x1_0000, 0);
        Assert.Equal(eight[0], eight[1]);
        Assert.Equal(Present | IR | (7UL << 9) | 0x1_0000, eight[0]);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    public void EveryLeafSizeRoundTrips(int granuleShift)
    {
        var codec = new AmdV1PteCodec(granuleShift);
        var bits = granuleShift - 3;
        var rng = new Random(granuleShift);
        for (var level = 0; level < 3; level++)
        {
            var natural = granuleShift + level * bits;
            for (var size = natural; size < natural + bits; size++)
            {
                foreach (var prot in new[] { IoProt.None, IoProt.Read, IoProt.Write, IoProt.Read | IoProt.Write | IoProt.Cache })
                {
                    var oa = ((ulong)rng.NextInt64() & ((1UL << (granuleShift + 40)) - 1)) & ~((1UL << size) - 1);
                    var pte = codec.EncodeLeaf(oa, size, level, prot);
                    Assert.Equal(PteKind.Leaf, codec.Kind(pte, level));
                    Assert.Equal(new PteLeaf(oa, size, prot), codec.DecodeLeaf(pte, level));
                    Assert.Equal(size == natural ? 0 : 7, NextLevel(pte));
                }
            }
            var tableAddress = (ulong)rng.Next(1, 1 << 20) << granuleShift;
            var pointer = codec.EncodeTable(tableAddress, level);
            Assert.Equal(PteKind.Table, codec.Kind(pointer, level + 1));
            Assert.Equal(tableAddress, codec.TableAddress(pointer));
        }
        Assert.Equal(PteKind.Empty, codec.Kind(0, 0));
        Assert.Equal(PteKind.Empty, codec.Kind(IR | IW | (1UL << 9), 1));
    }
}
