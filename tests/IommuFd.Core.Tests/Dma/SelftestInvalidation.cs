using System.Buffers.Binary;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;

namespace IommuFd.Core.Tests.Dma;

/// <summary>IOMMU_HWPT_INVALIDATE's selftest entries (flags, iotlb_id) held in managed memory.</summary>
public sealed class SelftestInvalidation(params (uint Flags, uint IotlbId)[] entries) : IDriverArray
{
    public const uint All = 1;

    public uint Type => MockNestedDomain.InvalidateDataSelftest;

    public uint EntryLength => 8;

    public uint Count => (uint)entries.Length;

    public Errno CopyEntry(uint index, Span<byte> destination, int minimumLength)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(destination, entries[index].Flags);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], entries[index].IotlbId);
        return Errno.Ok;
    }
}
