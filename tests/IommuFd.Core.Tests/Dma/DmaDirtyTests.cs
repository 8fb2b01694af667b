using IommuFd.Core.Dma;
using IommuFd.Core.Domains;

namespace IommuFd.Core.Tests.Dma;

/// <summary>Dirty tracking at the IOTLB: a write through an entry a read cached walks again, so the format can set its dirty state.</summary>
public sealed class DmaDirtyTests
{
    /// <summary>A one-page domain that counts its walks by direction.</summary>
    private sealed class CountingDomain(bool tracksDirty) : IIommuDomain, IDmaTranslatable
    {
        public DmaCacheTag CacheTag { get; } = new();

        public bool TracksDirty { get; } = tracksDirty;

        public List<DmaDirection> Walks { get; } = [];

        public bool Walk(ulong iova, DmaDirection direction, out DmaTranslation translation)
        {
            Walks.Add(direction);
            translation = new DmaTranslation(0x1000, 12, IoProt.Read | IoProt.Write);
            return iova < 0x1000;
        }
    }

    [Fact]
    public void With_tracking_the_first_write_after_a_read_walks_again_and_later_ones_hit()
    {
        var domain = new CountingDomain(tracksDirty: true);
        var translator = new DmaTranslator(new Iotlb(8), new IommuFd.Core.Memory.SimulatedUserMemory());
        Assert.True(translator.Translate(domain, Iotlb.NoPasid, 0x10, DmaDirection.Read, out var entry, out _, out _));
        Assert.False(entry.Dirty);
        Assert.True(translator.Translate(domain, Iotlb.NoPasid, 0x20, DmaDirection.Write, out entry, out _, out _));
        Assert.True(entry.Dirty);
        Assert.True(translator.Translate(domain, Iotlb.NoPasid, 0x30, DmaDirection.Write, out _, out _, out _));
        Assert.True(translator.Translate(domain, Iotlb.NoPasid, 0x40, DmaDirection.Read, out _, out _, out _));
        Assert.Equal([DmaDirection.Read, DmaDirection.Write], domain.Walks);
    }

    [Fact]
    public void Without_tracking_writes_reuse_the_entry_a_read_cached()
    {
        var domain = new CountingDomain(tracksDirty: false);
        var translator = new DmaTranslator(new Iotlb(8), new IommuFd.Core.Memory.SimulatedUserMemory());
        translator.Translate(domain, Iotlb.NoPasid, 0x10, DmaDirection.Read, out _, out _, out _);
        translator.Translate(domain, Iotlb.NoPasid, 0x20, DmaDirection.Write, out _, out _, out _);
        Assert.Equal([DmaDirection.Read], domain.Walks);
    }

    [Fact]
    public void A_walk_raced_by_an_invalidation_is_not_cached()
    {
        var domain = new CountingDomain(tracksDirty: false);
        var tlb = new Iotlb(8);
        domain.CacheTag.Register(tlb);
        var generation = domain.CacheTag.Generation;
        domain.CacheTag.InvalidateRange(0, 0x1000);
        var entry = new IotlbEntry(0x1000, 12, IoProt.Read, domain.CacheTag.Value, 0, IoProt.Read, true);
        Assert.False(tlb.InsertIfCurrent(domain.CacheTag.Value, Iotlb.NoPasid, 0, entry, domain.CacheTag, generation));
        Assert.Equal(0, tlb.Count);
        Assert.True(tlb.InsertIfCurrent(domain.CacheTag.Value, Iotlb.NoPasid, 0, entry, domain.CacheTag, domain.CacheTag.Generation));
    }
}
