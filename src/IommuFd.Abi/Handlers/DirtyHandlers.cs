using System.Runtime.CompilerServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Dirty;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_HWPT_GET_DIRTY_BITMAP and the self-test's DIRTY op.</summary>
internal static class DirtyHandlers
{
    public static Errno SetTracking(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuHwptSetDirtyTracking>();
        if ((cmd.Flags & ~DirtyUapiValues.TrackingEnable) != 0)
            return Errno.EOPNOTSUPP;
        return command.Context.SetDirtyTracking(new HwptId(cmd.HwptId), (cmd.Flags & DirtyUapiValues.TrackingEnable) != 0);
    }

    public static Errno GetBitmap(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuHwptGetDirtyBitmap>();
        if ((cmd.Flags & ~DirtyUapiValues.BitmapNoClear) != 0 || cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        var request = new DirtyBitmapRequest(cmd.Iova, cmd.Length, cmd.PageSize, cmd.Data,
            KeepDirty: (cmd.Flags & DirtyUapiValues.BitmapNoClear) != 0);
        return command.Context.GetDirtyBitmap(new HwptId(cmd.HwptId), request, command.Caller);
    }

    public static Errno TestDirty(ref UserCommand command, ref IommuTestCmd cmd)
    {
        ref var dirty = ref cmd.Dirty;
        var rc = command.Context.MockMarkDirty(new HwptId(cmd.Id), dirty.Iova, dirty.Length, dirty.PageSize, dirty.Uptr,
            out var marked, command.Caller);
        if (rc != Errno.Ok)
            return rc;
        dirty.OutNrDirty = marked;
        return command.Respond(Unsafe.SizeOf<IommuTestCmd>());
    }
}
