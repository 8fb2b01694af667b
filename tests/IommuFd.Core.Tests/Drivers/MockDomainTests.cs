using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;

namespace IommuFd.Core.Tests.Drivers;

/// <summary>Leaf selection, splitting, pruning, the dynamic top, and the errors of each mock domain type.</summary>
public sealed class MockDomainTests
{
    private const ulong KiB = 1024, MiB = 1024 * KiB, GiB = 1024 * MiB;
    private const ulong User = 0x7f00_0000_0000;
    private const IoProt RW = IoProt.Read | IoProt.Write;

    [Fact]
    public void TypesHaveTheSelftestGeometry()
    {
        var def = new MockDomain(MockPageTableType.Default);
        Assert.Equal(new IovaRange(16 * MiB, 2 * GiB - 1), def.Aperture);
        Assert.Equal(2048UL, def.PageSizeBitmap & (0 - def.PageSizeBitmap));
        Assert.Equal(2048UL, def.SmallestPage);

        var huge = new MockDomain(MockPageTableType.Huge);
        Assert.Equal(MiB | 4096, huge.PageSizeBitmap);
        Assert.Equal(new IovaRange(0, (1UL << 56) - 1), huge.Aperture);

        var amd = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(4096UL, amd.SmallestPage);
        Assert.Equal(IovaRange.Everything, amd.Aperture);
        Assert.True((amd.PageSizeBitmap & (2 * MiB)) != 0 && (amd.PageSizeBitmap & GiB) != 0);

        Assert.Throws<ArgumentOutOfRangeException>(() => new MockDomain((MockPageTableType)3));
    }

    [Fact]
    public void LargestPageCapsTheLeavesOfOneMap()
    {
        var amd = new MockDomain(MockPageTableType.AmdV1);
        // Huge pages off on the IOAS: a 2 MiB-aligned run still gets only 4 KiB entries.
        Assert.Equal(Errno.Ok, amd.Map(2 * MiB, 2 * MiB, 2 * MiB, RW, largestPage: 4096));
        Assert.Equal(512, amd.LeafCount(4096));
        Assert.Equal(0, amd.LeafCount(2 * MiB));
        // Without a cap the next call is back to the largest leaf; a cap that is no power of two rounds down.
        Assert.Equal(Errno.Ok, amd.Map(4 * MiB, 4 * MiB, 2 * MiB, RW));
        Assert.Equal(1, amd.LeafCount(2 * MiB));
        Assert.Equal(Errno.Ok, amd.Map(64 * MiB, 64 * MiB, 2 * MiB, RW, largestPage: 3 * MiB));
        Assert.Equal(2, amd.LeafCount(2 * MiB));
        // A cap below the smallest page still maps with the smallest page.
        var def = new MockDomain(MockPageTableType.Default);
        Assert.Equal(Errno.Ok, def.Map(16 * MiB, User, 8 * KiB, RW, largestPage: 1));
        Assert.Equal(4, def.LeafCount(2048));
        Assert.Null(amd.PageTable.Validate());
        Assert.Null(def.PageTable.Validate());
    }

    [Fact]
    public void HugeUsesOneMebibyteLeavesForAlignedRuns()
    {
        var d = new MockDomain(MockPageTableType.Huge);
        Assert.Equal(Errno.Ok, d.Map(4 * MiB, User, 4 * MiB, RW));
        Assert.Equal(4, d.LeafCount(MiB));
        Assert.Equal(0, d.LeafCount(4096));

        // Ragged ends: 4 KiB pages up to the first 1 MiB boundary, one 1 MiB leaf, 4 KiB pages after it.
        Assert.Equal(Errno.Ok, d.Map(16 * MiB - 8 * KiB, User + 64 * MiB - 8 * KiB, MiB + 16 * KiB, RW));
        Assert.Equal(5, d.LeafCount(MiB));
        Assert.Equal(4, d.LeafCount(4096));

        // An output address only 4 KiB aligned rules the large leaf out.
        Assert.Equal(Errno.Ok, d.Map(32 * MiB, User + 4096, 2 * MiB, RW));
        Assert.Equal(5, d.LeafCount(MiB));
        Assert.Equal(4 + 512, d.LeafCount(4096));
        Assert.Null(d.PageTable.Validate());
        Assert.Equal(User + 4096 + MiB + 123, d.IovaToPhys(33 * MiB + 123));
    }

    [Fact]
    public void DefaultAndAmdV1UseTheLargestFittingLeaf()
    {
        var def = new MockDomain(MockPageTableType.Default);
        Assert.Equal(Errno.Ok, def.Map(GiB, User, GiB, RW));
        Assert.Equal(1, def.LeafCount(GiB)); // eight size-coded entries at the 128 MiB level
        Assert.Equal(Errno.Ok, def.Map(32 * MiB, User + 2048, 4 * KiB, RW));
        Assert.Equal(2, def.LeafCount(2048));

        var amd = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(Errno.Ok, amd.Map(GiB, User, GiB + 2 * MiB + 8 * KiB, RW));
        Assert.Equal(1, amd.LeafCount(GiB));
        Assert.Equal(1, amd.LeafCount(2 * MiB));
        Assert.Equal(1, amd.LeafCount(8 * KiB));
        Assert.Equal(User + GiB + 2 * MiB + 4097, amd.IovaToPhys(2 * GiB + 2 * MiB + 4097));
        Assert.Null(amd.IovaToPhys(2 * GiB + 2 * MiB + 8 * KiB));
        Assert.Null(def.PageTable.Validate());
        Assert.Null(amd.PageTable.Validate());
    }

    [Fact]
    public void PartialUnmapSplitsAHugeLeafAndKeepsTheRest()
    {
        var d = new MockDomain(MockPageTableType.Huge);
        Assert.Equal(Errno.Ok, d.Map(8 * MiB, User, 2 * MiB, IoProt.Read));
        Assert.Equal(2, d.LeafCount(MiB));

        d.Unmap(8 * MiB + 256 * KiB, 4096);
        Assert.Equal(1, d.LeafCount(MiB));
        Assert.Equal(255, d.LeafCount(4096));
        Assert.Equal(2 * MiB - 4096, d.MappedBytes);
        for (var off = 0UL; off < 2 * MiB; off += 2048)
        {
            var expected = off / 4096 == 64 ? (ulong?)null : User + off + 7;
            Assert.Equal(expected, d.Translate(8 * MiB + off + 7, out var prot));
            Assert.Equal(expected is null ? IoProt.None : IoProt.Read, prot);
        }
        Assert.Null(d.PageTable.Validate());

        // Cutting a 1 GiB AMD leaf in the middle keeps everything else, in the largest pieces that fit.
        var amd = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(Errno.Ok, amd.Map(GiB, User, GiB, RW));
        amd.Unmap(GiB + 12 * KiB, 4096);
        Assert.Equal(0, amd.LeafCount(GiB));
        Assert.Equal(1, amd.LeafCount(512 * MiB));
        Assert.Equal(1, amd.LeafCount(2 * MiB));
        Assert.Equal(1, amd.LeafCount(16 * KiB));
        Assert.Equal(1, amd.LeafCount(8 * KiB)); // [0, 12 KiB) is 8 KiB + 4 KiB
        Assert.Equal(1, amd.LeafCount(4096));
        Assert.Equal(GiB - 4096, amd.MappedBytes);
        Assert.Null(amd.IovaToPhys(GiB + 12 * KiB));
        for (var off = 0UL; off < GiB; off += off < 4 * MiB ? 4096 : 3 * MiB + 4096)
            if (off != 12 * KiB)
                Assert.Equal(User + off, amd.IovaToPhys(GiB + off));
        Assert.Null(amd.PageTable.Validate());
    }

    [Fact]
    public void UnmappingEverythingPrunesBackToTheRoot()
    {
        foreach (var type in new[] { MockPageTableType.Default, MockPageTableType.Huge, MockPageTableType.AmdV1 })
        {
            var d = new MockDomain(type);
            var page = d.SmallestPage;
            var rng = new Random(7);
            var mapped = new List<(ulong Iova, ulong Length)>();
            for (var i = 0; i < 200; i++)
            {
                var iova = d.Aperture.Start + (ulong)rng.Next(0, 1 << 16) * page * 3;
                var length = (ulong)rng.Next(1, 40) * page;
                if (d.Map(iova, User + iova % GiB, length, RW) == Errno.Ok)
                    mapped.Add((iova, length));
            }
            // One at the very top of the aperture grows the tree to full height.
            Assert.Equal(Errno.Ok, d.Map(d.Aperture.Last - page + 1, User, page, RW));
            mapped.Add((d.Aperture.Last - page + 1, page));
            var tall = d.PageTable.Levels;
            Assert.True(d.TableCount > 10);
            foreach (var (iova, length) in mapped.OrderBy(_ => rng.Next()))
            {
                Assert.True(d.TableCount > 1);
                d.Unmap(iova, length);
                Assert.Null(d.PageTable.Validate());
            }
            Assert.Equal(1, d.TableCount);
            Assert.Equal(0UL, d.MappedBytes);
            Assert.Equal(3, d.PageTable.Levels);
            Assert.True(type == MockPageTableType.Default ? tall == 3 : tall == 6, $"{type}: {tall} levels");
        }
    }

    [Fact]
    public void DynamicTopGrowsAndShrinksAroundHighMappings()
    {
        var d = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(Errno.Ok, d.Map(0x1000, User, 0x1000, RW));
        Assert.Equal(3, d.PageTable.Levels);
        Assert.Equal(Errno.Ok, d.Map(1UL << 40, User + 0x1000, 0x1000, RW)); // needs a 4th level
        Assert.Equal(4, d.PageTable.Levels);
        Assert.Equal(User, d.IovaToPhys(0x1000));
        Assert.Equal(Errno.Ok, d.Map(ulong.MaxValue - 0xfff, User + 0x2000, 0x1000, RW));
        Assert.Equal(6, d.PageTable.Levels);
        Assert.Equal(User + 0x2fff, d.IovaToPhys(ulong.MaxValue));
        d.Unmap(ulong.MaxValue - 0xfff, 0x1000);
        Assert.Equal(4, d.PageTable.Levels);
        d.Unmap(1UL << 40, 0x1000);
        Assert.Equal(3, d.PageTable.Levels);
        Assert.Equal(User, d.IovaToPhys(0x1000));
        Assert.Null(d.PageTable.Validate());
    }

    [Fact]
    public void ApertureIsEnforced()
    {
        var def = new MockDomain(MockPageTableType.Default);
        Assert.Equal(Errno.EINVAL, def.Map(0, User, 2048, RW));
        Assert.Equal(Errno.EINVAL, def.Map(16 * MiB - 2048, User, 2048, RW));
        Assert.Equal(Errno.EINVAL, def.Map(16 * MiB - 2048, User, 4096, RW)); // straddles the start
        Assert.Equal(Errno.EINVAL, def.Map(2 * GiB - 2048, User, 4096, RW)); // straddles the end
        Assert.Equal(Errno.EINVAL, def.Map(2 * GiB, User, 2048, RW));
        Assert.Equal(Errno.Ok, def.Map(16 * MiB, User, 2048, RW));
        Assert.Equal(Errno.Ok, def.Map(2 * GiB - 2048, User + 4096, 2048, RW));
        Assert.Equal(User + 4096 + 2047, def.IovaToPhys(2 * GiB - 1));
        Assert.Equal(1 + 2 + 2, def.TableCount); // root + two level-1/level-0 chains

        // The whole aperture in one call: 16 MiB..2 GiB in 16 MiB, 32 MiB, ..., 1 GiB leaves.
        var whole = new MockDomain(MockPageTableType.Default);
        Assert.Equal(Errno.Ok, whole.Map(16 * MiB, 16 * MiB, 2 * GiB - 16 * MiB, RW));
        Assert.Equal(1, whole.LeafCount(GiB));
        Assert.Equal(1, whole.LeafCount(16 * MiB));
        Assert.Equal(2 * GiB - 1, whole.IovaToPhys(2 * GiB - 1));
        whole.Unmap(16 * MiB, 2 * GiB - 16 * MiB);
        Assert.Equal(1, whole.TableCount);

        var huge = new MockDomain(MockPageTableType.Huge);
        Assert.Equal(Errno.Ok, huge.Map(0, User, 4096, RW));
        Assert.Equal(Errno.Ok, huge.Map((1UL << 56) - 4096, User + 4096, 4096, RW));
        Assert.Equal(Errno.EINVAL, huge.Map(1UL << 56, User, 4096, RW));
        Assert.Equal(Errno.EINVAL, huge.Map((1UL << 56) - 4096, User, 8192, RW));
        Assert.Equal(User + 4096 + 4095, huge.IovaToPhys((1UL << 56) - 1));
        Assert.Null(huge.IovaToPhys(1UL << 56));

        // AmdV1 covers the whole 64-bit space, so only wrapping is refused.
        var amd = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(Errno.EINVAL, amd.Map(ulong.MaxValue - 4095, User, 8192, RW));
        Assert.Equal(Errno.Ok, amd.Map(ulong.MaxValue - 4095, User, 4096, RW));
    }

    [Fact]
    public void AlignmentOutputWidthAndZeroLength()
    {
        var def = new MockDomain(MockPageTableType.Default);
        Assert.Equal(Errno.EINVAL, def.Map(16 * MiB + 1024, User, 2048, RW));
        Assert.Equal(Errno.EINVAL, def.Map(16 * MiB, User + 1024, 2048, RW));
        Assert.Equal(Errno.EINVAL, def.Map(16 * MiB, User, 1024, RW));
        // Output addresses beyond the 51 bits the mock's address field holds.
        Assert.Equal(Errno.EINVAL, def.Map(16 * MiB, 1UL << 51, 2048, RW));
        Assert.Equal(Errno.EINVAL, def.Map(16 * MiB, (1UL << 51) - 2048, 4096, RW));
        Assert.Equal(Errno.Ok, def.Map(16 * MiB, (1UL << 51) - 2048, 2048, RW));
        Assert.Equal((1UL << 51) - 1, def.IovaToPhys(16 * MiB + 2047));

        var huge = new MockDomain(MockPageTableType.Huge);
        Assert.Equal(Errno.EINVAL, huge.Map(2048, User, 4096, RW));
        Assert.Equal(Errno.EINVAL, huge.Map(0, User + 2048, 4096, RW));
        Assert.Equal(Errno.EINVAL, huge.Map(0, User, 2048, RW));

        var amd = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(Errno.Ok, amd.Map(0, (1UL << 52) - 4096, 4096, RW));
        Assert.Equal(Errno.EINVAL, amd.Map(4096, 1UL << 52, 4096, RW));

        // Zero length: alignment is still checked, then it is a no-op that succeeds (as iommu_map does).
        var tables = def.TableCount;
        Assert.Equal(Errno.Ok, def.Map(16 * MiB + 4096, User, 0, RW));
        Assert.Equal(Errno.Ok, def.Map(0, User, 0, RW));
        Assert.Equal(Errno.EINVAL, def.Map(16 * MiB + 1, User, 0, RW));
        def.Unmap(16 * MiB, 0);
        Assert.Equal(tables, def.TableCount);
        Assert.Equal(2048UL, def.MappedBytes);

        // Unmap is only ever given ranges that were mapped; a misaligned one is a caller bug.
        Assert.Throws<ArgumentException>(() => def.Unmap(16 * MiB + 1024, 2048));
    }

    [Fact]
    public void OverlappingMapFailsWithNothingLeftBehind()
    {
        var d = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(Errno.Ok, d.Map(6 * MiB, User, 4096, RW));
        var tables = d.TableCount;
        // Maps 2 MiB + 4 MiB of fresh tables and leaves before hitting the page at 6 MiB.
        Assert.Equal(Errno.EEXIST, d.Map(4096, User, 8 * MiB, RW));
        Assert.Equal(tables, d.TableCount);
        Assert.Equal(4096UL, d.MappedBytes);
        Assert.Null(d.IovaToPhys(4096));
        Assert.Null(d.IovaToPhys(4 * MiB));
        Assert.Equal(User, d.IovaToPhys(6 * MiB));
        Assert.Null(d.PageTable.Validate());

        // A failure in a call that grew the tree shrinks it again.
        Assert.Equal(Errno.Ok, d.Map(1UL << 45, User, MiB, RW));
        var levels = d.PageTable.Levels;
        tables = d.TableCount;
        Assert.Equal(Errno.EEXIST, d.Map((1UL << 45) - 4096, User, 8192, RW));
        Assert.Equal(levels, d.PageTable.Levels);
        Assert.Equal(tables, d.TableCount);

        // A failing call that had grown the tree shrinks it back.
        var fresh = new MockDomain(MockPageTableType.AmdV1);
        Assert.Equal(Errno.Ok, fresh.Map((1UL << 39) - 0x1000, User, 0x1000, RW));
        Assert.Equal(Errno.EEXIST, fresh.Map((1UL << 39) - 0x2000, User, (1UL << 39) + 0x2000, RW)); // maps one page, then collides
        Assert.Null(fresh.IovaToPhys((1UL << 39) - 0x2000));
        Assert.Equal(3, fresh.PageTable.Levels);
        Assert.Equal(3, fresh.TableCount);
        Assert.Null(fresh.PageTable.Validate());

        // Mapping over a huge leaf, or a huge leaf over small ones, is refused too.
        var h = new MockDomain(MockPageTableType.Huge);
        Assert.Equal(Errno.Ok, h.Map(MiB, User, MiB, RW));
        Assert.Equal(Errno.EEXIST, h.Map(MiB + 4096, User, 4096, RW));
        Assert.Equal(Errno.Ok, h.Map(3 * MiB + 4096, User, 4096, RW));
        Assert.Equal(Errno.EEXIST, h.Map(3 * MiB, User, MiB, RW));
        Assert.Equal(MiB + 4096, h.MappedBytes);
        Assert.Null(h.PageTable.Validate());
    }

    [Fact]
    public void PermissionsRoundTrip()
    {
        var d = new MockDomain(MockPageTableType.Default);
        var prots = new[] { IoProt.None, IoProt.Read, IoProt.Write, RW, RW | IoProt.Cache, IoProt.Read | IoProt.Cache };
        for (var i = 0; i < prots.Length; i++)
        {
            var iova = 16 * MiB + (ulong)i * MiB;
            Assert.Equal(Errno.Ok, d.Map(iova, User + (ulong)i * MiB, MiB, prots[i]));
            Assert.Equal(User + (ulong)i * MiB + 5, d.Translate(iova + 5, out var prot));
            Assert.Equal(prots[i], prot);
        }
        Assert.Null(d.Translate(15 * MiB, out var none));
        Assert.Equal(IoProt.None, none);
    }

    [Fact]
    public async Task LookupsAreSafeAgainstConcurrentMapAndUnmap()
    {
        var d = new MockDomain(MockPageTableType.Default);
        const ulong stable = 64 * MiB;
        Assert.Equal(Errno.Ok, d.Map(stable, User, 4 * MiB, RW));
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var writer = Task.Run(() =>
        {
            var rng = new Random(1);
            while (!stop.IsCancellationRequested)
            {
                // Churn right next to the stable range so both share upper tables.
                var iova = stable + 4 * MiB + (ulong)rng.Next(0, 256) * 2048;
                if (d.Map(iova, User + 8 * MiB, 2048 * (ulong)rng.Next(1, 64), RW) == Errno.Ok)
                    d.Unmap(stable + 4 * MiB, 4 * MiB);
            }
        }, TestContext.Current.CancellationToken);
        var errors = 0;
        var readers = Enumerable.Range(0, 2).Select(seed => Task.Run(() =>
        {
            var rng = new Random(seed + 10);
            while (!stop.IsCancellationRequested)
            {
                var off = (ulong)rng.NextInt64(0, 4 * (long)MiB);
                if (d.IovaToPhys(stable + off) != User + off)
                    Interlocked.Increment(ref errors);
                var churn = d.IovaToPhys(stable + 4 * MiB + off);
                if (churn is { } pa && pa - (User + 8 * MiB) >= 4 * MiB)
                    Interlocked.Increment(ref errors);
            }
        }, TestContext.Current.CancellationToken)).ToArray();
        await Task.WhenAll([writer, .. readers]);
        Assert.Equal(0, errors);
        Assert.Null(d.PageTable.Validate());
    }
}
