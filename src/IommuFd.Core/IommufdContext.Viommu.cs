using IommuFd.Core.Devices;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>
/// vIOMMUs and their virtual devices. No driver here offers a vIOMMU type yet, so after the
/// kernel's checks a known device gets EOPNOTSUPP and no vIOMMU (hence no vDEVICE) can exist.
/// </summary>
public sealed partial class IommufdContext
{
    /// <summary>
    /// IOMMU_VIOMMU_ALLOC of <paramref name="type"/> for <paramref name="deviceId"/> over
    /// <paramref name="hwptId"/>. Type 0 (DEFAULT) is reserved (EOPNOTSUPP, before any look-up);
    /// an unknown device is ENOENT; the driver is asked for the type before the HWPT is looked up.
    /// </summary>
    public Errno AllocViommu(DeviceId deviceId, ObjectId hwptId, uint type)
    {
        _ = hwptId;
        if (type == 0)
            return Errno.EOPNOTSUPP;
        using var device = Objects.Hold<Device>(deviceId);
        return device.Held ? Errno.EOPNOTSUPP : device.Status;
    }

    /// <summary>IOMMU_VDEVICE_ALLOC: the vIOMMU is looked up first, and none can exist (ENOENT).</summary>
    public Errno AllocVdevice(ObjectId viommuId, DeviceId deviceId, ulong virtualId)
    {
        _ = (viommuId, deviceId, virtualId);
        return Errno.ENOENT;
    }
}
