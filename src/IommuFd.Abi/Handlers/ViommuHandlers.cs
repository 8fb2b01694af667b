using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>
/// IOMMU_VIOMMU_ALLOC and IOMMU_VDEVICE_ALLOC. No driver here offers a vIOMMU type yet, so after the
/// kernel's validation a known device gets EOPNOTSUPP and no vIOMMU (hence no vDEVICE) can exist.
/// </summary>
internal static class ViommuHandlers
{
    public static Errno Alloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuViommuAlloc>();
        // Type 0 (DEFAULT) is reserved, and flags must be 0: both checked before any look-up.
        if (cmd.Flags != 0 || cmd.Type == 0)
            return Errno.EOPNOTSUPP;
        var context = command.Context;
        if (context.Objects.TryHold<Device>(new DeviceId(cmd.DevId), out var device) != Errno.Ok)
            return Errno.ENOENT;
        context.Objects.Release(device);
        // The driver is asked for the type before the parent HWPT is looked up; none offers one yet.
        return Errno.EOPNOTSUPP;
    }

    public static Errno VdeviceAlloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuVdeviceAlloc>();
        // The vIOMMU is looked up first; none can exist, so every ID is unknown.
        _ = cmd.ViommuId;
        return Errno.ENOENT;
    }
}
