using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>IOMMU_VFIO_IOAS and IOMMU_IOAS_CHANGE_PROCESS.</summary>
internal static class CompatHandlers
{
    public static Errno VfioIoas(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuVfioIoas>();
        if (cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        var context = command.Context;
        switch (cmd.Op)
        {
            case DeviceUapiValues.VfioIoasGet:
                var rc = context.GetCompatIoas(out var id);
                if (rc != Errno.Ok)
                    return rc;
                cmd.IoasId = id.Value;
                return command.Respond(Unsafe.SizeOf<IommuVfioIoas>());
            case DeviceUapiValues.VfioIoasSet:
                return context.SetCompatIoas(new IoasId(cmd.IoasId));
            case DeviceUapiValues.VfioIoasClear:
                context.ClearCompatIoas();
                return Errno.Ok;
            default:
                return Errno.EOPNOTSUPP;
        }
    }

    public static Errno ChangeProcess(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasChangeProcess>();
        if (cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        return command.Context.ChangeProcess(command.Caller);
    }
}
