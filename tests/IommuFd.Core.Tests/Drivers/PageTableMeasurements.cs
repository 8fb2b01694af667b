using System.Diagnostics;
using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;

namespace IommuFd.Core.Tests.Drivers;

/// <summary>
/// Rough figures, printed (run with -diagnostics), never asserted: 1 GiB mapped and unmapped in
/// smallest pages, as one call and as one call per page, lookup cost and managed bytes per page.
/// The output address is offset by one small page so no larger leaf can be used.
/// </summary>
public sealed class PageTableMeasurements
{
    private const ulong GiB = 1UL << 30;
    private const ulong User = 0x7f00_0000_0000;

    [Theory]
    [InlineData(MockPageTableType.Default)]
    [InlineData(MockPageTableType.AmdV1)]
    public void OneGibibyteInSmallestPages(MockPageTableType type)
    {
        var d = new MockDomain(type);
        var page = d.SmallestPage;
        var pages = (long)(GiB / page);
        var user = User + page;
        var rng = new Random(3);
        const int lookups = 1_000_000;
        double mapOne = double.MaxValue, unmapOne = double.MaxValue, mapEach = double.MaxValue, unmapEach = double.MaxValue;
        double lookup = double.MaxValue, bytesPerPage = 0;
        var tables = 0;

        // Best of three rounds: the first also pays for tiered JIT and the machine is shared.
        for (var round = 0; round < 3; round++)
        {
            var before = GC.GetTotalMemory(forceFullCollection: true);
            var sw = Stopwatch.StartNew();
            Assert.Equal(Errno.Ok, d.Map(GiB, user, GiB, IoProt.Read | IoProt.Write));
            mapOne = Math.Min(mapOne, Ns(sw.Elapsed, pages));
            bytesPerPage = (double)(GC.GetTotalMemory(forceFullCollection: true) - before) / pages;
            Assert.Equal(pages, d.LeafCount(page));
            tables = d.TableCount;

            sw.Restart();
            for (var i = 0; i < lookups; i++)
                d.IovaToPhys(GiB + (ulong)rng.NextInt64(0, (long)GiB));
            lookup = Math.Min(lookup, Ns(sw.Elapsed, lookups));

            sw.Restart();
            d.Unmap(GiB, GiB);
            unmapOne = Math.Min(unmapOne, Ns(sw.Elapsed, pages));
            Assert.Equal(1, d.TableCount);

            sw.Restart();
            for (var off = 0UL; off < GiB; off += page)
                d.Map(GiB + off, user + off, page, IoProt.Read | IoProt.Write);
            mapEach = Math.Min(mapEach, Ns(sw.Elapsed, pages));
            sw.Restart();
            for (var off = 0UL; off < GiB; off += page)
                d.Unmap(GiB + off, page);
            unmapEach = Math.Min(unmapEach, Ns(sw.Elapsed, pages));
            Assert.Equal(1, d.TableCount);
        }

        TestContext.Current.SendDiagnosticMessage(
            $"{type}: 1 GiB in {page} B pages ({pages} leaves, {tables} tables): " +
            $"one call map {mapOne:F1} / unmap {unmapOne:F1} ns/page; " +
            $"per-page calls map {mapEach:F1} / unmap {unmapEach:F1} ns/page; " +
            $"random IovaToPhys {lookup:F1} ns; managed {bytesPerPage:F2} B/page");
    }

    private static double Ns(TimeSpan elapsed, long count) => elapsed.TotalNanoseconds / count;
}
