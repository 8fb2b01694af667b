using System.Buffers.Binary;
using IommuFd.Core.Dma;
using IommuFd.Core.Domains;

namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// The mock's nested domain: no tables of its own, only four IOTLB entries that invalidation
/// clears, so a test can watch which requests reached the "hardware". For device DMA its stage 1
/// is a <see cref="SoftStageOne"/> (a bypass until the embedder maps), and any invalidation it
/// carries out flushes the IOTLB entries looked up through it.
/// </summary>
public sealed class MockNestedDomain : INestedDomain, IDmaNestedTranslatable
{
    public const int IotlbEntries = 4;

    /// <summary>IOMMU_HWPT_INVALIDATE_DATA_SELFTEST.</summary>
    public const uint InvalidateDataSelftest = 0xdeadbeef;

    private const uint InvalidateAll = 1 << 0;
    private readonly uint[] _iotlb = new uint[IotlbEntries];
    private readonly Lock _lock = new();

    internal MockNestedDomain(MockDomain parent, uint iotlb)
    {
        Parent = parent;
        Array.Fill(_iotlb, iotlb);
    }

    public MockDomain Parent { get; }

    public DmaCacheTag CacheTag { get; } = new();

    public IDmaTranslatable StageTwo => Parent;

    /// <summary>The guest's stage 1, as device DMA sees it.</summary>
    public SoftStageOne StageOne { get; } = new();

    public StageOneWalk WalkStageOne(uint pasid, ulong iova, DmaDirection direction, IStageOneTables tables, out DmaTranslation translation) =>
        StageOne.Walk(pasid, iova, out translation);

    /// <summary>The value of IOTLB entry <paramref name="index"/> (0..3).</summary>
    public uint Iotlb(int index)
    {
        lock (_lock)
            return _iotlb[index];
    }

    public Errno Invalidate(IDriverArray requests, out uint handled)
    {
        var rc = InvalidateMockIotlb(requests, out handled);
        // The selftest's requests name mock IOTLB slots, not addresses: any carried out flushes the domain.
        if (handled > 0)
            CacheTag.InvalidateAll();
        return rc;
    }

    private Errno InvalidateMockIotlb(IDriverArray requests, out uint handled)
    {
        handled = 0;
        if (requests.Type != InvalidateDataSelftest)
            return Errno.EINVAL;
        // struct iommu_hwpt_invalidate_selftest { u32 flags; u32 iotlb_id; }
        Span<byte> entry = stackalloc byte[8];
        for (var i = 0u; i < requests.Count; i++)
        {
            var rc = requests.CopyEntry(i, entry, minimumLength: 4);
            if (rc != Errno.Ok)
                return rc;
            var flags = BinaryPrimitives.ReadUInt32LittleEndian(entry);
            var id = BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]);
            if ((flags & ~InvalidateAll) != 0)
                return Errno.EOPNOTSUPP;
            lock (_lock)
            {
                if ((flags & InvalidateAll) != 0)
                    Array.Clear(_iotlb);
                else if (id >= IotlbEntries)
                    return Errno.EINVAL;
                else
                    _iotlb[id] = 0;
            }
            handled++;
        }
        return Errno.Ok;
    }
}
