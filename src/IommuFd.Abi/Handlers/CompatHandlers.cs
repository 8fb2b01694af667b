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

    /// <summary>
    /// Moves pinned-memory accounting to the calling process; only file mappings can move (EINVAL
    /// when any IOAS maps process memory). The memlock charge stays with the context's host: the
    /// kernel's per-process VmPin/VmLck figures are not ours to move.
    /// </summary>
    public static Errno ChangeProcess(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasChangeProcess>();
        if (cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        foreach (var obj in command.Context.Objects.Snapshot())
            if (obj is Ioas ioas && ioas.PageTable.MapsProcessMemory)
                return Errno.EINVAL;
        return Errno.Ok;
    }
}
