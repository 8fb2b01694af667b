using IommuFd.Core.Dma;

namespace IommuFd.Core.Tests.Dma;

/// <summary>The IOTLB alone: keying, least-recently-used eviction and each kind of invalidation.</summary>
public sealed class IotlbTests
{
    private const int Page = 12;
    private const int Huge = 21;

    private static IotlbEntry Entry(ulong output, int sizeLog2 = Page, uint stageTwoTag = 1, ulong? stageTwoInput = null) =>
        new(output, sizeLog2, IoProt.Read | IoProt.Write, stageTwoTag, stageTwoInput ?? output, IoProt.Read | IoProt.Write, Dirty: false);

    [Fact]
    public void A_lookup_misses_until_the_page_is_inserted_then_hits_anywhere_inside_it()
    {
        var tlb = new Iotlb(4);
        Assert.False(tlb.TryLookup(1, Iotlb.NoPasid, 0x5000, out _));
        tlb.Insert(1, Iotlb.NoPasid, 0x5000, Entry(0x9000));
        Assert.True(tlb.TryLookup(1, Iotlb.NoPasid, 0x5fff, out var hit));
        Assert.Equal(0x9000UL, hit.OutputBase);
        Assert.False(tlb.TryLookup(1, Iotlb.NoPasid, 0x6000, out _));
        Assert.Equal((1L, 2L), (tlb.Hits, tlb.Misses));

        tlb.Insert(1, Iotlb.NoPasid, 0x20_1234, Entry(0x40_0000, Huge));
        Assert.True(tlb.TryLookup(1, Iotlb.NoPasid, 0x3f_ffff, out hit));
        Assert.Equal((0x40_0000UL, Huge), (hit.OutputBase, hit.SizeLog2));
        Assert.True(tlb.TryLookup(1, Iotlb.NoPasid, 0x5000, out _));
    }

    [Fact]
    public void Entries_are_keyed_by_domain_tag_and_pasid()
    {
        var tlb = new Iotlb(8);
        tlb.Insert(1, Iotlb.NoPasid, 0x1000, Entry(0xa000));
        tlb.Insert(1, 7, 0x1000, Entry(0xb000));
        tlb.Insert(2, Iotlb.NoPasid, 0x1000, Entry(0xc000));
        Assert.True(tlb.TryLookup(1, Iotlb.NoPasid, 0x1000, out var a));
        Assert.True(tlb.TryLookup(1, 7, 0x1000, out var b));
        Assert.True(tlb.TryLookup(2, Iotlb.NoPasid, 0x1000, out var c));
        Assert.Equal([0xa000UL, 0xb000UL, 0xc000UL], [a.OutputBase, b.OutputBase, c.OutputBase]);
        Assert.False(tlb.TryLookup(1, 8, 0x1000, out _));
        Assert.False(tlb.TryLookup(3, Iotlb.NoPasid, 0x1000, out _));
    }

    [Fact]
    public void A_full_cache_evicts_the_least_recently_used_entry()
    {
        var tlb = new Iotlb(3);
        tlb.Insert(1, Iotlb.NoPasid, 0x1000, Entry(0x1000));
        tlb.Insert(1, Iotlb.NoPasid, 0x2000, Entry(0x2000));
        tlb.Insert(1, Iotlb.NoPasid, 0x3000, Entry(0x3000));
        // Using 0x1000 makes 0x2000 the oldest.
        Assert.True(tlb.TryLookup(1, Iotlb.NoPasid, 0x1000, out _));
        tlb.Insert(1, Iotlb.NoPasid, 0x4000, Entry(0x4000));
        Assert.Equal(3, tlb.Count);
        Assert.Equal(1, tlb.Evictions);
        Assert.False(tlb.TryLookup(1, Iotlb.NoPasid, 0x2000, out _));
        foreach (var iova in new ulong[] { 0x1000, 0x3000, 0x4000 })
            Assert.True(tlb.TryLookup(1, Iotlb.NoPasid, iova, out _));
        // Re-inserting a cached page replaces it in place, evicting nothing.
        tlb.Insert(1, Iotlb.NoPasid, 0x3000, Entry(0x7000));
        Assert.Equal(1, tlb.Evictions);
        Assert.True(tlb.TryLookup(1, Iotlb.NoPasid, 0x3000, out var replaced));
        Assert.Equal(0x7000UL, replaced.OutputBase);
    }

    [Fact]
    public void A_single_entry_cache_keeps_only_the_last_page()
    {
        var tlb = new Iotlb(1);
        for (var i = 0UL; i < 10; i++)
            tlb.Insert(1, Iotlb.NoPasid, i << Page, Entry(i << Page));
        Assert.Equal(1, tlb.Count);
        Assert.Equal(9, tlb.Evictions);
        Assert.True(tlb.TryLookup(1, Iotlb.NoPasid, 9UL << Page, out _));
        Assert.False(tlb.TryLookup(1, Iotlb.NoPasid, 8UL << Page, out _));
    }

    [Fact]
    public void A_stage_two_range_invalidation_drops_overlapping_pages_of_that_domain_only()
    {
        var tag = new DmaCacheTag();
        var other = new DmaCacheTag();
        var tlb = new Iotlb(16);
        tag.Register(tlb);
        other.Register(tlb);
        tlb.Insert(tag.Value, Iotlb.NoPasid, 0x1000, Entry(0x1000, stageTwoTag: tag.Value));
        tlb.Insert(tag.Value, Iotlb.NoPasid, 0x2000, Entry(0x2000, stageTwoTag: tag.Value));
        tlb.Insert(tag.Value, Iotlb.NoPasid, 0x20_0000, Entry(0x20_0000, Huge, stageTwoTag: tag.Value));
        tlb.Insert(other.Value, Iotlb.NoPasid, 0x2000, Entry(0x2000, stageTwoTag: other.Value));

        // One byte of the huge page and the page at 0x2000.
        tag.InvalidateRange(0x2000, 0x1000);
        tag.InvalidateRange(0x3f_ffff, 1);
        Assert.True(tlb.TryLookup(tag.Value, Iotlb.NoPasid, 0x1000, out _));
        Assert.False(tlb.TryLookup(tag.Value, Iotlb.NoPasid, 0x2000, out _));
        Assert.False(tlb.TryLookup(tag.Value, Iotlb.NoPasid, 0x20_0000, out _));
        Assert.True(tlb.TryLookup(other.Value, Iotlb.NoPasid, 0x2000, out _));
    }

    [Fact]
    public void Nested_entries_go_with_their_stage_one_tag_and_with_the_stage_two_range_they_came_through()
    {
        var stageTwo = new DmaCacheTag();
        var stageOne = new DmaCacheTag();
        var tlb = new Iotlb(16);
        stageTwo.Register(tlb);
        stageOne.Register(tlb);
        // IOVA 0x1000 → IPA 0x8000 → output 0x10_8000; IOVA 0x2000 → IPA 0x9000.
        tlb.Insert(stageOne.Value, 5, 0x1000, Entry(0x10_8000, stageTwoTag: stageTwo.Value, stageTwoInput: 0x8000));
        tlb.Insert(stageOne.Value, 5, 0x2000, Entry(0x10_9000, stageTwoTag: stageTwo.Value, stageTwoInput: 0x9000));
        tlb.Insert(stageOne.Value, 6, 0x2000, Entry(0x10_9000, stageTwoTag: stageTwo.Value, stageTwoInput: 0x9000));

        // Unmapping IPA 0x8000 in the parent drops the entry that went through it, whatever its IOVA.
        stageTwo.InvalidateRange(0x8000, 0x1000);
        Assert.False(tlb.TryLookup(stageOne.Value, 5, 0x1000, out _));
        Assert.True(tlb.TryLookup(stageOne.Value, 5, 0x2000, out _));

        // A stage-1 invalidation is per PASID and IOVA range.
        stageOne.InvalidateStageOne(6, 0, 0xffff);
        Assert.True(tlb.TryLookup(stageOne.Value, 5, 0x2000, out _));
        Assert.False(tlb.TryLookup(stageOne.Value, 6, 0x2000, out _));

        stageOne.InvalidateAll();
        Assert.Equal(0, tlb.Count);
    }

    [Fact]
    public void Invalidating_everything_empties_the_cache_and_frees_its_slots()
    {
        var tlb = new Iotlb(2);
        tlb.Insert(1, Iotlb.NoPasid, 0x1000, Entry(0x1000));
        tlb.Insert(2, Iotlb.NoPasid, 0x1000, Entry(0x1000, Huge));
        tlb.InvalidateAll();
        Assert.Equal(0, tlb.Count);
        Assert.False(tlb.TryLookup(2, Iotlb.NoPasid, 0x1000, out _));
        tlb.Insert(3, Iotlb.NoPasid, 0x1000, Entry(0x1000));
        tlb.Insert(4, Iotlb.NoPasid, 0x1000, Entry(0x1000));
        Assert.Equal(0, tlb.Evictions);
    }
}

/// <summary>The IOTLB against a plain list model under thousands of seeded random operations.</summary>
public sealed class IotlbRandomTests
{
    [Theory]
    [InlineData(1, 1)]
    [InlineData(7, 2)]
    [InlineData(64, 3)]
    public void Random_inserts_lookups_and_invalidations_match_an_lru_list(int capacity, int seed)
    {
        var random = new Random(seed);
        var tlb = new Iotlb(capacity);
        var tags = new[] { new DmaCacheTag(), new DmaCacheTag() };
        foreach (var t in tags)
            t.Register(tlb);
        // Most recently used first: (tag, pasid, page, sizeLog2, output).
        var model = new List<(uint Tag, uint Pasid, ulong Page, int Size, ulong Output)>();
        for (var step = 0; step < 5000; step++)
        {
            var tag = tags[random.Next(2)].Value;
            var pasid = random.Next(3) == 0 ? 1u : Iotlb.NoPasid;
            var size = random.Next(4) == 0 ? 21 : 12;
            var iova = (ulong)random.Next(0, 64) << 12;
            var found = model.FindIndex(e => e.Tag == tag && e.Pasid == pasid && (iova >> e.Size) == e.Page);
            switch (random.Next(10))
            {
                case < 5:
                    var hit = tlb.TryLookup(tag, pasid, iova, out var entry);
                    Assert.Equal(found >= 0, hit);
                    if (found >= 0)
                    {
                        var e = model[found];
                        Assert.Equal(e.Output, entry.OutputBase);
                        model.RemoveAt(found);
                        model.Insert(0, e);
                    }
                    break;
                case < 9:
                    // A consistent walk never caches two overlapping pages for one domain and PASID.
                    var newBase = iova >> size << size;
                    if (model.Any(e => e.Tag == tag && e.Pasid == pasid && (e.Page << e.Size) <= newBase + (1UL << size) - 1 && (e.Page << e.Size) + (1UL << e.Size) - 1 >= newBase))
                        break;
                    var output = (ulong)random.Next(1, 1000) << 21;
                    tlb.Insert(tag, pasid, iova, new IotlbEntry(output, size, IoProt.Read, tag, iova >> size << size, IoProt.Read, true));
                    if (model.Count == capacity)
                        model.RemoveAt(model.Count - 1);
                    model.Insert(0, (tag, pasid, iova >> size, size, output));
                    break;
                default:
                    var first = (ulong)random.Next(0, 64) << 12;
                    var length = (ulong)random.Next(1, 8) << 12;
                    var which = tags[random.Next(2)];
                    which.InvalidateRange(first, length);
                    model.RemoveAll(e => e.Tag == which.Value && (e.Page << e.Size) <= first + length - 1 && (e.Page << e.Size) + (1UL << e.Size) - 1 >= first);
                    break;
            }
            Assert.Equal(model.Count, tlb.Count);
        }
    }
}

/// <summary>Lock-free lookups racing inserts and invalidations never see a torn or foreign entry.</summary>
public sealed class IotlbConcurrencyTests
{
    [Fact]
    public void Readers_racing_writers_only_ever_see_entries_that_were_inserted_for_their_page()
    {
        var tlb = new Iotlb(16);
        var tag = new DmaCacheTag();
        tag.Register(tlb);
        // Every entry ever inserted for page p has output (p + 1) << 32 and covers its page alone.
        static IotlbEntry For(ulong page, uint tag) =>
            new((page + 1) << 32, 12, IoProt.Read, tag, page << 12, IoProt.Read, Dirty: true);
        var stop = DateTime.UtcNow + TimeSpan.FromMilliseconds(300);
        var bad = 0L;
        var hits = 0L;
        var readers = Enumerable.Range(0, 2).Select(r => new Thread(() =>
        {
            var random = new Random(r);
            while (DateTime.UtcNow < stop)
            {
                var page = (ulong)random.Next(64);
                if (tlb.TryLookup(tag.Value, Iotlb.NoPasid, page << 12, out var entry))
                {
                    Interlocked.Increment(ref hits);
                    if (entry.OutputBase != (page + 1) << 32 || entry.SizeLog2 != 12)
                        Interlocked.Increment(ref bad);
                }
            }
        })).ToArray();
        var writer = new Thread(() =>
        {
            var random = new Random(7);
            while (DateTime.UtcNow < stop)
            {
                var page = (ulong)random.Next(64);
                if (random.Next(8) == 0)
                    tag.InvalidateRange(page << 12, 0x3000);
                else
                    tlb.Insert(tag.Value, Iotlb.NoPasid, page << 12, For(page, tag.Value));
            }
        });
        Thread[] all = [.. readers, writer];
        foreach (var thread in all)
            thread.Start();
        foreach (var thread in all)
            thread.Join();
        Assert.Equal(0, bad);
        Assert.True(hits > 0);
        Assert.InRange(tlb.Count, 0, 16);
    }
}
