using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>
/// The self-test's access ops. CREATE_ACCESS hands out a file descriptor naming a mock emulated
/// device; the other ops name it by that fd (EBADFD for any other) and closing it destroys it.
/// </summary>
internal static class TestAccessHandlers
{
    public static Errno Create(ref UserCommand command, ref IommuTestCmd cmd)
    {
        var flags = cmd.CreateAccess.Flags;
        if ((flags & ~TestAccessFlags.CreateNeedsPinPages) != 0)
            return Errno.EOPNOTSUPP;
        var context = command.Context;
        var mock = new MockAccess();
        var rc = context.CreateAccess(new IoasId(cmd.Id), (flags & TestAccessFlags.CreateNeedsPinPages) != 0, mock, out var access);
        if (rc != Errno.Ok)
            return rc;
        mock.Access = access;
        var files = command.Caller.Files;
        rc = files.OpenFile(mock, () => context.CloseAccess(access), out var fd);
        if (rc != Errno.Ok)
        {
            context.CloseAccess(access);
            return rc;
        }
        cmd.CreateAccess.OutAccessFd = (uint)fd;
        rc = command.Respond(Unsafe.SizeOf<IommuTestCmd>());
        // A descriptor the caller never learnt of is closed again.
        if (rc != Errno.Ok)
            files.Close(fd);
        return rc;
    }

    public static Errno Pages(ref UserCommand command, ref IommuTestCmd cmd)
    {
        ref var req = ref cmd.AccessPages;
        if (req.Length > TestAccessFlags.MaxRequestBytes)
            return Errno.ENOMEM;
        if ((req.Flags & ~(TestAccessFlags.PagesWrite | TestAccessFlags.Syzkaller)) != 0)
            return Errno.EOPNOTSUPP;
        if (Resolve(command, cmd.Id) is not { Access: { } access } mock)
            return Errno.EBADFD;
        if (!access.NeedsPinPages)
            return Errno.EOPNOTSUPP;
        var rc = access.Pin(req.Iova, req.Length, (req.Flags & TestAccessFlags.PagesWrite) != 0, out var pin);
        if (rc != Errno.Ok)
            return rc;
        if (req.Uptr != 0)
        {
            // The pinned pages must be the ones behind uptr (whose page offset matches the IOVA's).
            var expected = CpuPage.AlignDown(req.Uptr - CpuPage.Offset(req.Iova));
            for (var i = 0; i < pin!.UserPages.Count; i++)
            {
                if (!command.Memory.SamePage(pin.UserPages[i], expected + ((ulong)i << CpuPage.Shift)))
                {
                    access.Unpin(pin);
                    return Errno.EBADE;
                }
            }
        }
        req.OutAccessPagesId = mock.AddItem(pin!);
        rc = command.Respond(Unsafe.SizeOf<IommuTestCmd>());
        if (rc != Errno.Ok)
            mock.DestroyItem(req.OutAccessPagesId);
        return rc;
    }

    public static Errno DestroyPages(ref UserCommand command, ref IommuTestCmd cmd) =>
        Resolve(command, cmd.Id) is { } mock ? mock.DestroyItem(cmd.DestroyAccessPages.AccessPagesId) : Errno.EBADFD;

    public static Errno ReadWrite(ref UserCommand command, ref IommuTestCmd cmd)
    {
        ref var req = ref cmd.AccessRw;
        if (req.Length > TestAccessFlags.MaxRequestBytes)
            return Errno.ENOMEM;
        if ((req.Flags & ~(TestAccessFlags.RwWrite | TestAccessFlags.RwSlowPath | TestAccessFlags.Syzkaller)) != 0)
            return Errno.EOPNOTSUPP;
        if (Resolve(command, cmd.Id) is not { Access: { } access })
            return Errno.EBADFD;
        var buffer = new byte[req.Length];
        var write = (req.Flags & TestAccessFlags.RwWrite) != 0;
        if (write && UserCopy.From(command.Memory, req.Uptr, buffer) != Errno.Ok)
            return Errno.EFAULT;
        var rc = write ? access.Write(req.Iova, buffer) : access.Read(req.Iova, buffer);
        if (rc != Errno.Ok)
            return rc;
        if (!write && UserCopy.To(command.Memory, req.Uptr, buffer) != Errno.Ok)
            return Errno.EFAULT;
        return Errno.Ok;
    }

    public static Errno ReplaceIoas(ref UserCommand command, ref IommuTestCmd cmd) =>
        Resolve(command, cmd.Id) is { Access: { } access }
            ? command.Context.ReplaceAccessIoas(access, new IoasId(cmd.AccessReplaceIoas.IoasId))
            : Errno.EBADFD;

    private static MockAccess? Resolve(in UserCommand command, uint fd) =>
        command.Context.Host.Files.Lookup((int)fd) as MockAccess;
}
