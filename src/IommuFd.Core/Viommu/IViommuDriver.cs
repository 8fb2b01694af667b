using IommuFd.Core.Devices;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers;

namespace IommuFd.Core.VirtualIommu;

/// <summary>
/// The part of an IOMMU driver that virtualizes the IOMMU for a guest (IOMMU_VIOMMU_ALLOC): it
/// says which vIOMMU types it offers and builds the driver side of one over a nesting parent.
/// </summary>
public interface IViommuDriver
{
    /// <summary>Whether <paramref name="device"/>'s IOMMU offers vIOMMUs of <paramref name="type"/> (EOPNOTSUPP otherwise, before any other look-up).</summary>
    bool SupportsViommuType(Device device, uint type);

    /// <summary>
    /// Builds the driver's vIOMMU over <paramref name="parent"/>. <paramref name="data"/> (null when
    /// the caller gave none) is read, and answered in place, as the driver's struct.
    /// </summary>
    Errno AllocateViommu(Device device, uint type, IIoDomain parent, IDriverData? data, out IViommuInstance instance);
}

/// <summary>A region of a vIOMMU user space may map through the iommufd fd (mmap at <see cref="Offset"/>).</summary>
public sealed record ViommuMmapRegion(ulong Offset, byte[] Contents);

/// <summary>
/// The driver's side of one vIOMMU: nested domains made on it, invalidations of its caches
/// addressed by virtual device ID, and the HW queues it lets a guest own.
/// </summary>
public interface IViommuInstance
{
    /// <summary>The memory the driver lets user space map (its registers for a guest), or null.</summary>
    ViommuMmapRegion? Mmap { get; }

    /// <summary>A nested (stage-1) domain on this vIOMMU: EOPNOTSUPP for flags or data it does not take.</summary>
    Errno AllocateNestedDomain(HwptAllocFlags flags, IDriverData data, out INestedDomain domain);

    /// <summary>
    /// IOMMU_HWPT_INVALIDATE on the vIOMMU: requests name devices by virtual ID (<paramref name="findDevice"/>
    /// resolves one, or null). <paramref name="handled"/> counts the requests done, also on failure.
    /// </summary>
    Errno Invalidate(IDriverArray requests, Func<ulong, Device?> findDevice, out uint handled);

    /// <summary>Whether HW queues of <paramref name="type"/> exist on this vIOMMU (EOPNOTSUPP otherwise).</summary>
    bool SupportsHwQueueType(uint type);

    /// <summary>
    /// Claims queue <paramref name="index"/> by the driver's rules (range, order, duplicates);
    /// <paramref name="dependsOn"/> names a queue that must outlive it, or is null.
    /// </summary>
    Errno ClaimHwQueue(uint index, out uint? dependsOn);

    /// <summary>Gives queue <paramref name="index"/> back.</summary>
    void ReleaseHwQueue(uint index);
}
