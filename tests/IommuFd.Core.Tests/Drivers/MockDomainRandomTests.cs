using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;

namespace IommuFd.Core.Tests.Drivers;

/// <summary>
/// Random map/unmap sequences on each mock domain type against <see cref="PageModel"/>: every errno
/// and unmapped byte count must agree, the tree's bookkeeping must stay consistent, and every page of
/// the window must translate like the model (probed at a random byte inside the page).
/// </summary>
public sealed class MockDomainRandomTests
{
    private const int WindowPages = 4096;
    private const ulong UserBase = 0x7f00_0000_0000;

    public static TheoryData<MockPageTableType, bool> Cases() => new()
    {
        { MockPageTableType.Default, false },
        { MockPageTableType.Default, true },
        { MockPageTableType.Huge, false },
        { MockPageTableType.Huge, true },
        { MockPageTableType.AmdV1, false },
        { MockPageTableType.AmdV1, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void AgreesWithDictionaryModel(MockPageTableType type, bool atTopOfAperture)
    {
        var domain = new MockDomain(type);
        var page = domain.SmallestPage;
        var window = WindowPages * page;
        var aperture = domain.Aperture;
        var baseIova = atTopOfAperture ? aperture.Last - window + 1 : type == MockPageTableType.Default ? aperture.Start : 64UL << 30;
        var model = new PageModel(page);
        var rng = new Random(HashCode.Combine((int)type, atTopOfAperture) & 0x7fff_ffff);
        var startTables = domain.TableCount;
        var startLevels = domain.PageTable.Levels;
        var conflicts = 0;
        var largestLeaf = 0UL;
        var splits = 0;

        for (var step = 0; step < 2500; step++)
        {
            if (rng.Next(100) < 60)
            {
                var (first, count) = PickRange(rng);
                var iova = baseIova + first * page;
                var userOffset = rng.Next(5) < 3 ? first : (ulong)rng.Next(0, 1 << 20);
                var user = UserBase + userOffset * page;
                var prot = PickProt(rng);
                var expected = model.Map(iova, user, count * page, prot);
                Assert.Equal(expected, domain.Map(iova, user, count * page, prot));
                conflicts += expected == Errno.EEXIST ? 1 : 0;
            }
            else
            {
                var (first, count) = rng.Next(20) == 0 ? (0UL, (ulong)WindowPages) : PickRange(rng);
                var iova = baseIova + first * page;
                var expected = model.Unmap(iova, count * page);
                var before = domain.MappedBytes;
                var leavesBefore = LeafTotal(domain);
                domain.Unmap(iova, count * page);
                Assert.Equal(expected, before - domain.MappedBytes);
                // More leaves after an unmap means some leaf was cut through and split.
                splits += LeafTotal(domain) > leavesBefore ? 1 : 0;
            }
            Assert.Null(domain.PageTable.Validate());
            Assert.Equal((ulong)model.Count * page, domain.MappedBytes);
            for (var size = page * 2; size != 0 && size <= window; size <<= 1)
                if (domain.LeafCount(size) != 0)
                    largestLeaf = Math.Max(largestLeaf, size);
            if (step % 100 == 99)
                CompareWindow(domain, model, baseIova, rng);
        }
        CompareWindow(domain, model, baseIova, rng);
        Assert.True(conflicts > 50, $"only {conflicts} EEXIST");
        Assert.True(splits > 20, $"only {splits} splits");
        Assert.True(largestLeaf >= 1UL << 20, $"largest leaf 0x{largestLeaf:x}");
        TestContext.Current.SendDiagnosticMessage($"{type} top={atTopOfAperture}: {conflicts} EEXIST, {splits} splitting unmaps, largest leaf 0x{largestLeaf:x}");

        // Unmapping everything prunes back to the bare root at the starting height.
        domain.Unmap(baseIova, window);
        Assert.Equal(startTables, domain.TableCount);
        Assert.Equal(1, domain.TableCount);
        Assert.Equal(startLevels, domain.PageTable.Levels);
        Assert.Equal(0UL, domain.MappedBytes);
    }

    private static long LeafTotal(MockDomain domain)
    {
        var total = 0L;
        for (var size = domain.SmallestPage; size != 0; size <<= 1)
            total += domain.LeafCount(size);
        return total;
    }

    private static void CompareWindow(MockDomain domain, PageModel model, ulong baseIova, Random rng)
    {
        var page = domain.SmallestPage;
        for (var i = 0UL; i < WindowPages; i++)
        {
            var iova = baseIova + i * page + (ulong)rng.NextInt64(0, (long)page);
            var expected = model.Lookup(iova);
            var actual = domain.Translate(iova, out var prot);
            Assert.Equal(expected?.Output, actual);
            if (expected is { } e)
                Assert.Equal(e.Prot, prot);
        }
        // Just outside the window nothing is ever mapped.
        if (baseIova != domain.Aperture.Start)
            Assert.Null(domain.IovaToPhys(baseIova - 1));
        if (baseIova + WindowPages * page - 1 != domain.Aperture.Last)
            Assert.Null(domain.IovaToPhys(baseIova + WindowPages * page));
    }

    /// <summary>A page range in the window, biased to 512 KiB / 1 MiB boundaries and lengths so large leaves appear.</summary>
    private static (ulong First, ulong Count) PickRange(Random rng)
    {
        var first = rng.Next(10) switch
        {
            < 5 => rng.Next(WindowPages),
            < 8 => rng.Next(WindowPages / 256) * 256,
            _ => rng.Next(WindowPages / 512) * 512,
        };
        var count = rng.Next(10) switch
        {
            < 4 => rng.Next(1, 9),
            < 7 => rng.Next(1, 600),
            < 9 => rng.Next(1, 5) * 256,
            _ => rng.Next(1, 5) * 512,
        };
        return ((ulong)first, (ulong)Math.Min(count, WindowPages - first));
    }

    private static IoProt PickProt(Random rng) => rng.Next(5) switch
    {
        0 => IoProt.Read,
        1 => IoProt.Write,
        2 => IoProt.Read | IoProt.Write | IoProt.Cache,
        3 => IoProt.None,
        _ => IoProt.Read | IoProt.Write,
    };
}
