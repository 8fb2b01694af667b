using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>IOMMU_HWPT_ALLOC, IOMMU_GET_HW_INFO and IOMMU_HWPT_INVALIDATE.</summary>
internal static class HwptHandlers
{
    public static Errno Alloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuHwptAlloc>();
        if (cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        var noData = cmd.DataType == DeviceUapiValues.HwptDataNone;
        if (noData != (cmd.DataLen == 0))
            return Errno.EINVAL;
        var data = noData ? null : new DriverDataFromUser(command.Memory, cmd.DataType, cmd.DataLen, cmd.DataUptr);
        using var hwpt = command.Context.BeginAllocHwpt(new DeviceId(cmd.DevId), new ObjectId(cmd.PtId), (HwptAllocFlags)cmd.Flags, data, new FaultId(cmd.FaultId));
        if (!hwpt.Reserved)
            return hwpt.Status;
        cmd.OutHwptId = hwpt.Value.Id.Value;
        return command.RespondThenPublish(hwpt, Unsafe.SizeOf<IommuHwptAlloc>());
    }

    public static Errno GetHwInfo(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuHwInfo>();
        if ((cmd.Flags & ~DeviceUapiValues.HwInfoFlagInputType) != 0)
            return Errno.EOPNOTSUPP;
        if (cmd.Reserved0 != 0 || cmd.Reserved1 != 0 || cmd.Reserved2 != 0)
            return Errno.EOPNOTSUPP;
        var requested = (cmd.Flags & DeviceUapiValues.HwInfoFlagInputType) != 0 ? cmd.DataType : 0;
        var rc = command.Context.GetHwInfo(new DeviceId(cmd.DevId), requested, out var found);
        if (rc != Errno.Ok)
            return rc;
        var info = found!;
        // Fill what fits, zero the rest of a larger buffer, and report the driver's own length.
        var copy = (int)Math.Min(cmd.DataLen, (uint)info.Data.Length);
        if (copy > 0 && UserCopy.To(command.Memory, cmd.DataUptr, info.Data.AsSpan(0, copy)) != Errno.Ok)
            return Errno.EFAULT;
        if (cmd.DataLen > info.Data.Length)
        {
            var zeros = new byte[cmd.DataLen - (uint)info.Data.Length];
            if (UserCopy.To(command.Memory, cmd.DataUptr + (ulong)info.Data.Length, zeros) != Errno.Ok)
                return Errno.EFAULT;
        }
        cmd.DataLen = (uint)info.Data.Length;
        cmd.DataType = info.Type;
        cmd.OutCapabilities = info.Capabilities;
        cmd.OutMaxPasidLog2 = info.MaxPasidLog2;
        return command.Respond(Unsafe.SizeOf<IommuHwInfo>());
    }

    /// <summary>The requests stay in user memory until the driver reads them; entry_num reports how many were handled.</summary>
    public static Errno Invalidate(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuHwptInvalidate>();
        var requested = cmd.EntryNum;
        cmd.EntryNum = 0;
        var rc = Validate(ref command, ref cmd, requested);
        // entry_num reports how many entries were handled, even on failure.
        // A failed write-back is EFAULT whatever the handler decided.
        if (command.Respond(Unsafe.SizeOf<IommuHwptInvalidate>()) != Errno.Ok)
            return Errno.EFAULT;
        return rc;

        static Errno Validate(ref UserCommand command, ref IommuHwptInvalidate cmd, uint requested)
        {
            if (cmd.Reserved != 0)
                return Errno.EOPNOTSUPP;
            if (requested != 0 && (cmd.DataUptr == 0 || cmd.EntryLen == 0))
                return Errno.EINVAL;
            var requests = new DriverArrayFromUser(command.Memory, cmd.DataType, cmd.EntryLen, requested, cmd.DataUptr);
            var rc = command.Context.InvalidateHwpt(new ObjectId(cmd.HwptId), requests, out var handled);
            cmd.EntryNum = handled;
            return rc;
        }
    }
}
