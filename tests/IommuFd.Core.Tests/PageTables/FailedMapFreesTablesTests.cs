using IommuFd.Core;
using IommuFd.Core.Drivers.PageTables;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Core.Tests.PageTables;

/// <summary>
/// A map that fails part-way (here: the Nth page-table allocation, for every N) leaves the table exactly
/// as before, down to the number of tables: levels it allocated and left empty are freed. Found by the
/// fail-nth sweep (a failed MAP left an empty level in the domain). And unmap, which cannot fail, is no
/// fault site even when it splits a leaf and allocates.
/// </summary>
public sealed class FailedMapFreesTablesTests
{
    private const ulong K4 = 1UL << 12, M2 = 1UL << 21;

    [Theory]
    [InlineData("vtd-ss-4")]
    [InlineData("x86-fs-4")]
    [InlineData("amdv1-4")]
    [InlineData("arm-s1-4k")]
    public void EveryFailedAllocationLeavesTheTableAsItWas(string format) => FormatCatalog.Run(format, new MapBody());

    /// <summary>A format that starts low and grows: a map far up fails at each new root or level and leaves the height as it was.</summary>
    [Fact]
    public void EveryFailedAllocationWhileGrowingLeavesTheTableAsItWas() =>
        new GrowBody().Run(AmdV1Formats.Standard4K, AmdV1Formats.Standard4K.LeafSizes);

    [Theory]
    [InlineData("vtd-ss-4")]
    [InlineData("arm-s2-4k-dbm")]
    public void UnmapSplittingALeafIsNoFaultSite(string format) => FormatCatalog.Run(format, new SplitBody());

    private sealed class MapBody : IFormatTest
    {
        public void Run<TCodec>(PageTableFormat<TCodec> format, ulong pageSizes) where TCodec : struct, IPteCodec
        {
            var table = new RadixPageTable<TCodec>(format, pageSizes & (K4 | M2));
            Assert.Equal(Errno.Ok, table.Map(0x4000_0000, 0x10_0000, 4 * K4, IoProt.Read));
            var tables = table.TableCount;
            var failures = 0;
            for (var n = 1; ; n++)
            {
                // From 2 MiB - 8 KiB: 4 KiB leaves in one last-level table, then a fresh branch in the next 1 GiB.
                const ulong iova = (3UL << 30) - 2 * K4;
                FailNth.Remaining = n;
                var rc = table.Map(iova, 0x20_0000, 4 * K4, IoProt.Read | IoProt.Write);
                var left = FailNth.Remaining;
                FailNth.Remaining = 0;
                if (rc == Errno.Ok)
                {
                    Assert.True(left > 0, "an injected failure was lost");
                    break;
                }
                failures++;
                Assert.Equal(Errno.ENOMEM, rc);
                Assert.Equal(tables, table.TableCount);
                Assert.Equal(4 * K4, table.MappedBytes);
                Assert.Null(table.Translate(iova));
                Assert.Null(table.Translate(iova + 3 * K4));
            }
            Assert.True(failures >= 3, $"only {failures} allocations on a map needing two branches");
        }
    }

    private sealed class GrowBody : IFormatTest
    {
        public void Run<TCodec>(PageTableFormat<TCodec> format, ulong pageSizes) where TCodec : struct, IPteCodec
        {
            var table = new RadixPageTable<TCodec>(format, pageSizes & (K4 | M2));
            Assert.Equal(Errno.Ok, table.Map(0x10_0000, 0x10_0000, K4, IoProt.Read));
            var (tables, levels) = (table.TableCount, table.Levels);
            var failures = 0;
            for (var n = 1; ; n++)
            {
                const ulong far = 1UL << 50;
                FailNth.Remaining = n;
                var rc = table.Map(far, 0x20_0000, K4, IoProt.Read);
                var left = FailNth.Remaining;
                FailNth.Remaining = 0;
                if (rc == Errno.Ok)
                {
                    Assert.True(left > 0);
                    Assert.True(table.Levels > levels, "the map needed a taller table");
                    break;
                }
                failures++;
                Assert.Equal(Errno.ENOMEM, rc);
                Assert.Equal(tables, table.TableCount);
                Assert.Equal(levels, table.Levels);
                Assert.Equal(0x10_0000UL, table.Translate(0x10_0000)!.Value.OutputAddress);
                Assert.Null(table.Translate(far));
            }
            Assert.True(failures >= 2, $"only {failures} allocations on a map that grows the table");
        }
    }

    private sealed class SplitBody : IFormatTest
    {
        public void Run<TCodec>(PageTableFormat<TCodec> format, ulong pageSizes) where TCodec : struct, IPteCodec
        {
            var table = new RadixPageTable<TCodec>(format, pageSizes & (K4 | M2));
            Assert.Equal(Errno.Ok, table.Map(M2, 4 * M2, M2, IoProt.Read));
            FailNth.Remaining = 1;
            try
            {
                Assert.Equal(K4, table.Unmap(M2 + K4, K4));
                Assert.Equal(1, FailNth.Remaining);
            }
            finally
            {
                FailNth.Remaining = 0;
            }
            Assert.Equal(M2 - K4, table.MappedBytes);
        }
    }
}
