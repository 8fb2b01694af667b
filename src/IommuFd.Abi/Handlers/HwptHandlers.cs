using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
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
        var rc = command.Context.AllocHwpt(new DeviceId(cmd.DevId), new ObjectId(cmd.PtId), (HwptAllocFlags)cmd.Flags, data, out var hwpt, new FaultId(cmd.FaultId));
        if (rc != Errno.Ok)
            return rc;
        cmd.OutHwptId = hwpt.Value;
        rc = command.Respond(Unsafe.SizeOf<IommuHwptAlloc>());
        if (rc != Errno.Ok)
            command.Context.Destroy(hwpt);
        return rc;
    }

    public static Errno GetHwInfo(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuHwInfo>();
        if ((cmd.Flags & ~DeviceUapiValues.HwInfoFlagInputType) != 0)
            return Errno.EOPNOTSUPP;
        if (cmd.Reserved0 != 0 || cmd.Reserved1 != 0 || cmd.Reserved2 != 0)
            return Errno.EOPNOTSUPP;
        var requested = (cmd.Flags & DeviceUapiValues.HwInfoFlagInputType) != 0 ? cmd.DataType : 0;
        var context = command.Context;
        if (context.Objects.TryHold<Device>(new DeviceId(cmd.DevId), out var device) != Errno.Ok)
            return Errno.ENOENT;
        HwInfo info;
        try
        {
            var rc = device.Driver.GetHwInfo(device, requested, out info);
            if (rc != Errno.Ok)
                return rc;
        }
        finally
        {
            context.Objects.Release(device);
        }
        // Fill what fits, zero the rest of a larger buffer, and report the driver's own length.
        var copy = (int)Math.Min(cmd.DataLen, (uint)info.Data.Length);
        if (copy > 0 && command.Memory.Write(cmd.DataUptr, info.Data.AsSpan(0, copy)) != Errno.Ok)
            return Errno.EFAULT;
        if (cmd.DataLen > info.Data.Length)
        {
            var zeros = new byte[cmd.DataLen - (uint)info.Data.Length];
            if (command.Memory.Write(cmd.DataUptr + (ulong)info.Data.Length, zeros) != Errno.Ok)
                return Errno.EFAULT;
        }
        cmd.DataLen = (uint)info.Data.Length;
        cmd.DataType = info.Type;
        cmd.OutCapabilities = info.Capabilities;
        cmd.OutMaxPasidLog2 = info.MaxPasidLog2;
        return command.Respond(Unsafe.SizeOf<IommuHwInfo>());
    }

    /// <summary>Only nested HWPTs (and vIOMMUs, none of which exist yet) have caches to invalidate; anything else is EINVAL.</summary>
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
            var objects = command.Context.Objects;
            if (objects.TryHold<IommufdObject>(new ObjectId(cmd.HwptId), out var target) != Errno.Ok)
                return Errno.ENOENT;
            try
            {
                if (target is not HwptNested nested)
                    return Errno.EINVAL;
                var requests = new DriverArrayFromUser(command.Memory, cmd.DataType, cmd.EntryLen, requested, cmd.DataUptr);
                var rc = nested.Domain.Invalidate(requests, out var handled);
                cmd.EntryNum = handled;
                return rc;
            }
            finally
            {
                objects.Release(target);
            }
        }
    }
}
