using IommuFd.Core;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Tests.PageTables;

/// <summary>
/// The largest leaf a 4 KiB-granule format offers for 1 GiB-aligned memory, split by a one-page unmap into the
/// next sizes down (the rest stays mapped to the same place), and every table freed once all is unmapped.
/// </summary>
public sealed class GigabyteLeafTests
{
    private const ulong K4 = 1UL << 12, M2 = 1UL << 21, G1 = 1UL << 30;

    [Theory]
    [InlineData("vtd-ss-4")]
    [InlineData("vtd-ss-5")]
    [InlineData("x86-fs-4")]
    [InlineData("amdv1-4")]
    [InlineData("arm-s1-4k")]
    [InlineData("arm-s2-4k-dbm")]
    public void OnePageUnmapSplitsAGigabyteLeaf(string format) => FormatCatalog.Run(format, new Body());

    private sealed class Body : IFormatTest
    {
        public void Run<TCodec>(PageTableFormat<TCodec> format, ulong pageSizes) where TCodec : struct, IPteCodec
        {
            // AMD offers every power of two (the split would use 512 MiB, 256 MiB, ... runs); keep the three common sizes.
            var table = new RadixPageTable<TCodec>(format, pageSizes & (K4 | M2 | G1));
            const ulong iova = 5 * G1, output = 9 * G1;
            Assert.Equal(Errno.Ok, table.Map(iova, output, 2 * G1, IoProt.Read | IoProt.Write));
            Assert.Equal(2, table.LeafCount(G1));
            Assert.Equal(format.MaxLevels - 2, table.TableCount); // the root and one table per level down to the 1 GiB level (2)
            var hole = iova + G1 / 2 + 3 * K4;
            Assert.Equal(K4, table.Unmap(hole, K4));
            Assert.Equal(1, table.LeafCount(G1));
            Assert.Equal(511, table.LeafCount(M2));
            Assert.Equal(511, table.LeafCount(K4));
            Assert.Null(table.Translate(hole));
            Assert.Equal(output + (hole - iova) - 1, table.Translate(hole - 1)!.Value.OutputAddress);
            Assert.Equal(output + (hole - iova) + K4, table.Translate(hole + K4)!.Value.OutputAddress);
            Assert.Equal(M2, table.Translate(iova)!.Value.PageSize);
            Assert.Null(table.Validate());
            Assert.Equal(2 * G1 - K4, table.Unmap(iova, 2 * G1));
            Assert.Equal(1, table.TableCount);
        }
    }
}
