using IommuFd.Core;
using IommuFd.Core.Drivers.PageTables;
using IommuFd.Core.Tests.Drivers;

namespace IommuFd.Core.Tests.PageTables;

/// <summary>
/// Seeded random map/unmap sequences on every hardware format against <see cref="PageModel"/>: errnos and
/// unmapped byte counts agree, the tree's bookkeeping stays consistent, every page of the window translates
/// like the model with the permissions the format can hold, and unmapping everything frees every table.
/// </summary>
public sealed class FormatRandomTests
{
    private const int Steps = 1500;

    public static TheoryData<string, bool> Cases()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in FormatCatalog.Names)
        {
            data.Add(name, false);
            data.Add(name, true);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void AgreesWithDictionaryModel(string format, bool atTopOfInput) =>
        FormatCatalog.Run(format, new RoundTrip(atTopOfInput, Seed(format, atTopOfInput)));

    /// <summary>A seed that is the same in every run (string.GetHashCode is randomised per process).</summary>
    private static int Seed(string format, bool atTop) => format.Aggregate(atTop ? 7 : 3, (h, c) => h * 31 + c) & 0x7fff_ffff;

    /// <summary>The round trip, specialised per codec by <see cref="FormatCatalog"/>.</summary>
    private sealed class RoundTrip(bool atTopOfInput, int seed) : IFormatTest
    {
        public void Run<TCodec>(PageTableFormat<TCodec> format, ulong pageSizes) where TCodec : struct, IPteCodec
        {
            var table = new RadixPageTable<TCodec>(format, pageSizes);
            var codec = format.Codec;
            var page = table.SmallestPage;
            // Ranges lean to the first block size (2 MiB for 4 KiB pages) so blocks are made and split.
            var rest = pageSizes & ~page;
            var block = (int)((rest & (0 - rest)) / page);
            var windowPages = Math.Max(4096, 4 * block);
            var window = (ulong)windowPages * page;
            var baseIova = atTopOfInput ? format.InputLast - window + 1 : 1UL << 30;
            var outputBase = 1UL << 40;
            var model = new PageModel(page);
            var rng = new Random(seed);
            var conflicts = 0;
            var splits = 0;
            var largest = 0UL;

            for (var step = 0; step < Steps; step++)
            {
                if (rng.Next(100) < 60)
                {
                    var (first, count) = PickRange(rng, windowPages, block);
                    var iova = baseIova + first * page;
                    var output = outputBase + (rng.Next(5) < 3 ? first : (ulong)rng.Next(0, 1 << 16)) * page;
                    var prot = PickProt(rng);
                    var holdable = codec.EncodeLeaf(0, format.GranuleShift, 0, prot) != 0;
                    var expected = holdable ? model.Map(iova, output, count * page, Holdable(codec, format, prot)) : Errno.EINVAL;
                    Assert.Equal(expected, table.Map(iova, output, count * page, prot));
                    conflicts += expected == Errno.EEXIST ? 1 : 0;
                }
                else
                {
                    var (first, count) = rng.Next(20) == 0 ? (0UL, (ulong)windowPages) : PickRange(rng, windowPages, block);
                    var iova = baseIova + first * page;
                    var leavesBefore = LeafTotal(table);
                    Assert.Equal(model.Unmap(iova, count * page), table.Unmap(iova, count * page));
                    splits += LeafTotal(table) > leavesBefore ? 1 : 0;
                }
                Assert.Null(table.Validate());
                Assert.Equal((ulong)model.Count * page, table.MappedBytes);
                Assert.Equal(format.MaxLevels, table.Levels);
                for (var size = page * 2; size != 0 && size <= window; size <<= 1)
                    if (table.LeafCount(size) != 0)
                        largest = Math.Max(largest, size);
                if (step % 100 == 99)
                    CompareWindow(table, model, baseIova, windowPages, rng);
            }
            CompareWindow(table, model, baseIova, windowPages, rng);
            Assert.True(conflicts > 30, $"only {conflicts} EEXIST");
            Assert.True(splits > 4, $"only {splits} splits");
            Assert.True(largest >= page * (ulong)block, $"largest leaf 0x{largest:x}");

            table.Unmap(baseIova, window);
            Assert.Equal(1, table.TableCount);
            Assert.Equal(0UL, table.MappedBytes);
        }

        private static IoProt Holdable<TCodec>(TCodec codec, PageTableFormat<TCodec> format, IoProt prot) where TCodec : struct, IPteCodec =>
            codec.DecodeLeaf(codec.EncodeLeaf(0, format.GranuleShift, 0, prot), 0).Prot;

        private static long LeafTotal<TCodec>(RadixPageTable<TCodec> table) where TCodec : struct, IPteCodec
        {
            var total = 0L;
            for (var size = table.SmallestPage; size != 0; size <<= 1)
                total += table.LeafCount(size);
            return total;
        }

        private static void CompareWindow<TCodec>(RadixPageTable<TCodec> table, PageModel model, ulong baseIova, int windowPages, Random rng)
            where TCodec : struct, IPteCodec
        {
            var page = table.SmallestPage;
            for (var i = 0UL; i < (ulong)windowPages; i++)
            {
                var iova = baseIova + i * page + (ulong)rng.NextInt64(0, (long)page);
                var expected = model.Lookup(iova);
                var actual = table.Translate(iova);
                Assert.Equal(expected?.Output, actual?.OutputAddress);
                if (expected is { } e)
                    Assert.Equal(e.Prot, actual!.Value.Prot);
            }

            // The leaves as the hardware walks them: in order, disjoint, covering exactly the model's pages.
            var leaves = new LeafList<TCodec> { Found = [], Codec = table.Format.Codec };
            table.WalkLeaves(baseIova, (ulong)windowPages * page, ref leaves);
            var covered = 0UL;
            var next = baseIova;
            foreach (var (iova, leaf) in leaves.Found)
            {
                Assert.True(iova >= next, $"leaf 0x{iova:x} out of order");
                next = iova + (1UL << leaf.SizeLog2);
                covered += 1UL << leaf.SizeLog2;
                Assert.Equal(model.Lookup(iova)?.Output, leaf.OutputAddress);
                Assert.Equal(model.Lookup(next - 1)?.Output, leaf.OutputAddress + (next - 1 - iova));
            }
            Assert.Equal((ulong)model.Count * page, covered);
        }

        private struct LeafList<TCodec> : ILeafVisitor where TCodec : struct, IPteCodec
        {
            public List<(ulong Iova, PteLeaf Leaf)> Found;
            public TCodec Codec;

            public readonly void Visit(ulong iova, PteLeaf leaf, int level, ulong pte)
            {
                // The size-only decode the unmap fast path uses must agree with the full one.
                Assert.Equal(leaf.SizeLog2, Codec.LeafSizeLog2(pte, level));
                Found.Add((iova, leaf));
            }
        }

        /// <summary>A page range in the window, biased to half-block and block boundaries and lengths.</summary>
        private static (ulong First, ulong Count) PickRange(Random rng, int windowPages, int block)
        {
            var half = block / 2;
            var first = rng.Next(10) switch
            {
                < 5 => rng.Next(windowPages),
                < 8 => rng.Next(windowPages / half) * half,
                _ => rng.Next(windowPages / block) * block,
            };
            var count = rng.Next(10) switch
            {
                < 4 => rng.Next(1, 9),
                < 7 => rng.Next(1, block + 100),
                < 9 => rng.Next(1, 5) * half,
                _ => rng.Next(1, 5) * block,
            };
            return ((ulong)first, (ulong)Math.Min(count, windowPages - first));
        }

        private static IoProt PickProt(Random rng) => rng.Next(6) switch
        {
            0 => IoProt.Read,
            1 => IoProt.Write,
            2 => IoProt.Read | IoProt.Write | IoProt.Cache,
            3 => IoProt.None,
            4 => IoProt.Read | IoProt.Cache,
            _ => IoProt.Read | IoProt.Write,
        };
    }
}
