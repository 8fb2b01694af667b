using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>IOMMU_DESTROY and IOMMU_OPTION: commands about the context rather than one object kind.</summary>
internal static class CommonHandlers
{
    public static Errno Destroy(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuDestroy>();
        return command.Context.Destroy(new ObjectId(cmd.Id));
    }

    public static Errno Option(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuOption>();
        if (cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        var rc = cmd.OptionId switch
        {
            UapiValues.OptionRlimitMode => RlimitMode(command.Context, ref cmd),
            UapiValues.OptionHugePages => HugePages(command.Context, ref cmd),
            _ => Errno.EOPNOTSUPP,
        };
        if (rc != Errno.Ok)
            return rc;
        // Only val64 goes back, as the kernel copies just that field.
        const int val64Offset = 16;
        return UserCopy.To(command.Memory, command.UserPointer + val64Offset, command.Buffer.Slice(val64Offset, sizeof(ulong)));
    }

    private static Errno RlimitMode(IommufdContext context, ref IommuOption cmd)
    {
        if (cmd.ObjectId != 0)
            return Errno.EOPNOTSUPP;
        switch (cmd.Op)
        {
            case UapiValues.OptionOpGet:
                cmd.Val64 = context.AccountMode == Core.Pages.AccountMode.Process ? 1UL : 0UL;
                return Errno.Ok;
            case UapiValues.OptionOpSet:
                return context.SetAccountMode(cmd.Val64);
            default:
                return Errno.EOPNOTSUPP;
        }
    }

    private static Errno HugePages(IommufdContext context, ref IommuOption cmd)
    {
        var id = new IoasId(cmd.ObjectId);
        switch (cmd.Op)
        {
            case UapiValues.OptionOpGet:
                var rc = context.GetHugePages(id, out var enabled);
                cmd.Val64 = enabled ? 1UL : 0UL;
                return rc;
            case UapiValues.OptionOpSet:
                return context.SetHugePages(id, cmd.Val64);
            default:
                // The IOAS is looked up before the op is checked, as in the kernel.
                return context.GetHugePages(id, out _) is var found and not Errno.Ok ? found : Errno.EOPNOTSUPP;
        }
    }
}
