using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using IommuFd.Core.Devices;
using IommuFd.Core.Domains;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// The self-test's mock IOMMU: page-table domains with a 2 KiB IO page and the mock aperture,
/// dirty tracking unless a device says otherwise, and the self-test hardware-info record.
/// Facts from the kernel's iommufd_test.h and selftest.c; the design is ours.
/// </summary>
public sealed class MockIommuDriver : IIommuDriver
{
    public const uint HwInfoTypeSelftest = 0xfeedbeef;
    public const uint HwInfoRegisterValue = 0xdeadbeef;
    public const uint HwptDataSelftest = 0xdead;
    public const int PasidWidth = 20;
    private const ulong CapabilityDirtyTracking = 1;

    public static readonly MockIommuDriver Instance = new();

    /// <summary>Domains allocated with dirty tracking: a device that cannot track dirty pages may not join them.</summary>
    private readonly ConditionalWeakTable<IIoDomain, object> _dirtyDomains = [];

    public string Name => "mock";

    public bool SupportsDirtyTracking(Device device) => !StateOf(device).Flags.HasFlag(MockDeviceFlags.NoDirty);

    public Errno AllocatePagingDomain(Device device, HwptAllocFlags flags, IDriverData? data, out IIoDomain domain)
    {
        domain = null!;
        const HwptAllocFlags supported = HwptAllocFlags.DirtyTracking | HwptAllocFlags.NestParent | HwptAllocFlags.Pasid;
        if ((flags & ~supported) != 0)
            return Errno.EOPNOTSUPP;
        if (flags.HasFlag(HwptAllocFlags.DirtyTracking) && !SupportsDirtyTracking(device))
            return Errno.EOPNOTSUPP;
        var type = MockPageTableType.Default;
        if (data is not null && data.Type != 0)
        {
            var rc = ReadSelftestData(data, out _, out var requested);
            if (rc != Errno.Ok)
                return rc;
            if (requested > (uint)MockPageTableType.AmdV1)
                return Errno.EOPNOTSUPP;
            type = (MockPageTableType)requested;
        }
        domain = new MockDomain(type, flags.HasFlag(HwptAllocFlags.DirtyTracking));
        if (flags.HasFlag(HwptAllocFlags.DirtyTracking))
            _dirtyDomains.Add(domain, this);
        return Errno.Ok;
    }

    public Errno AllocateNestedDomain(Device device, IIoDomain parent, HwptAllocFlags flags, IDriverData data, out INestedDomain domain)
    {
        domain = null!;
        if ((flags & ~HwptAllocFlags.Pasid) != 0)
            return Errno.EOPNOTSUPP;
        if (parent is not MockDomain paging)
            return Errno.EINVAL;
        // The nested domain takes only iotlb; pagetable_type is for paging domains.
        var rc = ReadSelftestData(data, out var iotlb, out _);
        if (rc != Errno.Ok)
            return rc;
        domain = new MockNestedDomain(paging, iotlb);
        return Errno.Ok;
    }

    /// <summary>
    /// struct iommu_hwpt_selftest { u32 iotlb; u32 pagetable_type; }: another data type is
    /// EOPNOTSUPP, less than iotlb or more than the struct EINVAL, an unreadable one EFAULT.
    /// </summary>
    internal static Errno ReadSelftestData(IDriverData data, out uint iotlb, out uint pagetableType)
    {
        iotlb = pagetableType = 0;
        if (data.Type != HwptDataSelftest)
            return Errno.EOPNOTSUPP;
        if (data.Length < 4 || data.Length > 8)
            return Errno.EINVAL;
        Span<byte> bytes = stackalloc byte[8];
        bytes.Clear();
        var rc = data.CopyTo(bytes[..(int)data.Length]);
        if (rc != Errno.Ok)
            return rc;
        iotlb = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        pagetableType = BinaryPrimitives.ReadUInt32LittleEndian(bytes[4..]);
        return Errno.Ok;
    }

    public Errno CheckAttach(Device device, IIommuDomain domain)
    {
        // A nested domain has no dirty tracking of its own: any mock device may use it.
        if (domain is MockNestedDomain)
            return Errno.Ok;
        if (domain is not MockDomain paging)
            return Errno.EINVAL;
        if (_dirtyDomains.TryGetValue(paging, out _) && !SupportsDirtyTracking(device))
            return Errno.EINVAL;
        return Errno.Ok;
    }

    /// <summary>The mock's vIOMMU (IOMMU_VIOMMU_TYPE_SELFTEST).</summary>
    public IViommuDriver? Viommu => MockViommuDriver.Instance;

    public Errno GetHwInfo(Device device, uint requestedType, out HwInfo info)
    {
        info = null!;
        if (requestedType != 0 && requestedType != HwInfoTypeSelftest)
            return Errno.EOPNOTSUPP;
        var data = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(4), HwInfoRegisterValue);
        var flags = StateOf(device).Flags;
        info = new HwInfo(HwInfoTypeSelftest, data,
            flags.HasFlag(MockDeviceFlags.NoDirty) ? 0 : CapabilityDirtyTracking,
            flags.HasFlag(MockDeviceFlags.Pasid) ? (byte)PasidWidth : (byte)0);
        return Errno.Ok;
    }

    /// <summary>
    /// The self-test's PASID for testing a failed replace (IOMMU_TEST_PASID_RESERVED): a change to
    /// a domain arms a fault, the next change to a domain fails with ENOMEM (and disarms it), and
    /// blocking the PASID disarms it. So attach succeeds, the replace after it fails, and the old
    /// domain must stay.
    /// </summary>
    public const uint FaultyPasid = 1024;

    public Errno SetPasidDomain(Device device, uint pasid, IIommuDomain? domain)
    {
        if (pasid != FaultyPasid)
            return Errno.Ok;
        var state = StateOf(device);
        lock (state)
        {
            if (domain is null)
                state.PasidFaultArmed = false;
            else if (state.PasidFaultArmed)
            {
                state.PasidFaultArmed = false;
                return Errno.ENOMEM;
            }
            else
                state.PasidFaultArmed = true;
        }
        return Errno.Ok;
    }

    public static MockDeviceState StateOf(Device device) =>
        device.DriverState as MockDeviceState ?? throw new InvalidOperationException("not a mock device");

    /// <summary>A new mock device: its own group, no reserved regions (the mock reports none).</summary>
    public Device CreateDevice(MockDeviceFlags flags) =>
        new(this, new DeviceGroup("mock"), [], new MockDeviceState(flags));
}
