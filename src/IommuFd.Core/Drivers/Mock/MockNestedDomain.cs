using System.Buffers.Binary;
using IommuFd.Core.Domains;

namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// The mock's nested domain: no tables of its own, only four IOTLB entries that invalidation
/// clears, so a test can watch which requests reached the "hardware".
/// </summary>
public sealed class MockNestedDomain : INestedDomain
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

    /// <summary>The value of IOTLB entry <paramref name="index"/> (0..3).</summary>
    public uint Iotlb(int index)
    {
        lock (_lock)
            return _iotlb[index];
    }

    public Errno Invalidate(IDriverArray requests, out uint handled)
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
