using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>IOMMU_VIOMMU_ALLOC and IOMMU_VDEVICE_ALLOC (see <see cref="IommufdContext.AllocViommu"/>).</summary>
internal static class ViommuHandlers
{
    public static Errno Alloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuViommuAlloc>();
        // Flags must be 0, checked before any look-up.
        if (cmd.Flags != 0)
            return Errno.EOPNOTSUPP;
        return command.Context.AllocViommu(new DeviceId(cmd.DevId), new ObjectId(cmd.HwptId), cmd.Type);
    }

    public static Errno VdeviceAlloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuVdeviceAlloc>();
        return command.Context.AllocVdevice(new ObjectId(cmd.ViommuId), new DeviceId(cmd.DevId), cmd.VirtId);
    }
}
