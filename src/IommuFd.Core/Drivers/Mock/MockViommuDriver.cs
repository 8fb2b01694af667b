using System.Buffers.Binary;
using IommuFd.Core.Devices;
using IommuFd.Core.Domains;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// The self-test mock's vIOMMU (IOMMU_VIOMMU_TYPE_SELFTEST): echoes in_data, offers two pages to
/// mmap whose first word is in_data, makes nested domains like the mock's, and invalidates the
/// mock devices' four cache tags by virtual device ID. Facts from iommufd_test.h and selftest.c.
/// </summary>
public sealed class MockViommuDriver : IViommuDriver
{
    public const uint TypeSelftest = 0xdeadbeef;
    public const uint InvalidateDataSelftest = 0xdeadbeef;
    public const uint VeventqTypeSelftest = 0xbeefbeef;
    public const uint HwQueueTypeSelftest = 0xdeadbeef;
    public const int HwQueueMax = 2;
    public const int MmapLength = 2 * (int)CpuPage.Size;
    private const uint InvalidateAll = 1;

    /// <summary>struct iommu_viommu_selftest: in_data, out_data, out_mmap_offset, out_mmap_length.</summary>
    private const int DataSize = 24;
    private const int DataMinimum = 8;

    public static readonly MockViommuDriver Instance = new();

    /// <summary>mmap offsets are handed out once, page aligned and never 0, so no two regions share one.</summary>
    private long _nextRegion;

    public bool SupportsViommuType(Device device, uint type) => type == TypeSelftest;

    public Errno AllocateViommu(Device device, uint type, IIoDomain parent, IDriverData? data, out IViommuInstance instance)
    {
        instance = null!;
        if (parent is not MockDomain paging)
            return Errno.EINVAL;
        ViommuMmapRegion? region = null;
        if (data is not null && data.Length > 0)
        {
            if (data.Type != TypeSelftest || data.Length < DataMinimum)
                return Errno.EINVAL;
            Span<byte> bytes = stackalloc byte[DataSize];
            bytes.Clear();
            if (data.Length > DataSize)
            {
                // A larger struct is accepted only when what we do not know of it is zero.
                var whole = new byte[data.Length];
                var rc = data.CopyTo(whole);
                if (rc != Errno.Ok)
                    return rc;
                if (whole.AsSpan(DataSize).ContainsAnyExcept((byte)0))
                    return Errno.E2BIG;
                whole.AsSpan(0, DataSize).CopyTo(bytes);
            }
            else
            {
                var rc = data.CopyTo(bytes[..(int)data.Length]);
                if (rc != Errno.Ok)
                    return rc;
            }
            var inData = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
            var offset = (ulong)Interlocked.Increment(ref _nextRegion) * MmapLength;
            var contents = new byte[MmapLength];
            BinaryPrimitives.WriteUInt32LittleEndian(contents, inData);
            BinaryPrimitives.WriteUInt32LittleEndian(bytes[4..], inData);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes[8..], offset);
            BinaryPrimitives.WriteUInt64LittleEndian(bytes[16..], MmapLength);
            var written = data.CopyFrom(bytes[..(int)Math.Min(data.Length, DataSize)]);
            if (written != Errno.Ok)
                return written;
            region = new ViommuMmapRegion(offset, contents);
        }
        instance = new MockViommu(paging, region);
        return Errno.Ok;
    }

    private sealed class MockViommu(MockDomain parent, ViommuMmapRegion? mmap) : IViommuInstance
    {
        private readonly bool[] _queues = new bool[HwQueueMax];

        public ViommuMmapRegion? Mmap { get; } = mmap;

        public bool SupportsHwQueueType(uint type) => type == HwQueueTypeSelftest;

        /// <summary>Queues are taken in order from 0; each one past 0 depends on the one before it.</summary>
        public Errno ClaimHwQueue(uint index, out uint? dependsOn)
        {
            dependsOn = null;
            if (index >= HwQueueMax)
                return Errno.EINVAL;
            lock (_queues)
            {
                if (_queues[index])
                    return Errno.EEXIST;
                if (index > 0 && !_queues[index - 1])
                    return Errno.EIO;
                _queues[index] = true;
            }
            dependsOn = index > 0 ? index - 1 : null;
            return Errno.Ok;
        }

        public void ReleaseHwQueue(uint index)
        {
            lock (_queues)
                _queues[index] = false;
        }

        public Errno AllocateNestedDomain(HwptAllocFlags flags, IDriverData data, out INestedDomain domain)
        {
            domain = null!;
            if ((flags & ~HwptAllocFlags.Pasid) != 0)
                return Errno.EOPNOTSUPP;
            var rc = MockIommuDriver.ReadSelftestData(data, out var iotlb, out _);
            if (rc != Errno.Ok)
                return rc;
            domain = new MockNestedDomain(parent, iotlb);
            return Errno.Ok;
        }

        /// <summary>struct iommu_viommu_invalidate_selftest { u32 flags; u32 vdev_id; u32 cache_id; }.</summary>
        public Errno Invalidate(IDriverArray requests, Func<ulong, Device?> findDevice, out uint handled)
        {
            handled = 0;
            // An empty array of the right type answers "is this type supported?".
            if (requests.Type != InvalidateDataSelftest)
                return Errno.EINVAL;
            Span<byte> entry = stackalloc byte[12];
            for (var i = 0u; i < requests.Count; i++)
            {
                var rc = requests.CopyEntry(i, entry, minimumLength: 1);
                if (rc != Errno.Ok)
                    return rc;
                var flags = BinaryPrimitives.ReadUInt32LittleEndian(entry);
                var vdevId = BinaryPrimitives.ReadUInt32LittleEndian(entry[4..]);
                var cacheId = BinaryPrimitives.ReadUInt32LittleEndian(entry[8..]);
                if ((flags & ~InvalidateAll) != 0)
                    return Errno.EOPNOTSUPP;
                if (cacheId >= MockDeviceState.CacheCount)
                    return Errno.EINVAL;
                if (findDevice(vdevId)?.DriverState is not MockDeviceState state)
                    return Errno.EINVAL;
                lock (state.Cache)
                {
                    if ((flags & InvalidateAll) != 0)
                        Array.Clear(state.Cache);
                    else
                        state.Cache[cacheId] = 0;
                }
                handled++;
            }
            return Errno.Ok;
        }
    }
}
