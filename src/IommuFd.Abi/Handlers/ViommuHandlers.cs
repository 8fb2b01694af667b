using System.Runtime.CompilerServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Files;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>IOMMU_VIOMMU_ALLOC, IOMMU_VDEVICE_ALLOC, IOMMU_VEVENTQ_ALLOC and IOMMU_HW_QUEUE_ALLOC (the rules are in <see cref="IommufdContext"/>).</summary>
internal static class ViommuHandlers
{
    public static Errno Alloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuViommuAlloc>();
        // Flags must be 0, checked with the type before any look-up.
        if (cmd.Flags != 0)
            return Errno.EOPNOTSUPP;
        // The driver sees data only when some was given; its type is the vIOMMU's.
        var data = cmd.DataLen == 0 ? null : new DriverDataFromUser(command.Memory, cmd.Type, cmd.DataLen, cmd.DataUptr);
        using var viommu = command.Context.BeginAllocViommu(new DeviceId(cmd.DevId), new ObjectId(cmd.HwptId), cmd.Type, data);
        if (!viommu.Reserved)
            return viommu.Status;
        cmd.OutViommuId = viommu.Value.Id.Value;
        return command.RespondThenPublish(viommu, Unsafe.SizeOf<IommuViommuAlloc>());
    }

    public static Errno VdeviceAlloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuVdeviceAlloc>();
        using var vdevice = command.Context.BeginAllocVdevice(new ObjectId(cmd.ViommuId), new DeviceId(cmd.DevId), cmd.VirtId);
        if (!vdevice.Reserved)
            return vdevice.Status;
        cmd.OutVdeviceId = vdevice.Value.Id.Value;
        return command.RespondThenPublish(vdevice, Unsafe.SizeOf<IommuVdeviceAlloc>());
    }

    public static Errno VeventqAlloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuVeventqAlloc>();
        if (cmd.Flags != 0 || cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        using var queue = command.Context.BeginAllocVeventq(new ObjectId(cmd.ViommuId), cmd.Type, cmd.VeventqDepth,
            command.Caller.Files, q => new VeventqFile(q), out var fd);
        if (!queue.Reserved)
            return queue.Status;
        cmd.OutVeventqId = queue.Value.Id.Value;
        cmd.OutVeventqFd = (uint)fd;
        return command.RespondThenPublish(queue, Unsafe.SizeOf<IommuVeventqAlloc>());
    }

    public static Errno HwQueueAlloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuHwQueueAlloc>();
        if (cmd.Flags != 0)
            return Errno.EOPNOTSUPP;
        using var queue = command.Context.BeginAllocHwQueue(new ObjectId(cmd.ViommuId), cmd.Type, cmd.Index, cmd.NestingParentIova, cmd.Length);
        if (!queue.Reserved)
            return queue.Status;
        cmd.OutHwQueueId = queue.Value.Id.Value;
        return command.RespondThenPublish(queue, Unsafe.SizeOf<IommuHwQueueAlloc>());
    }
}
