using System.Runtime.CompilerServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Files;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Handlers;

/// <summary>IOMMU_FAULT_QUEUE_ALLOC: a fault queue object and the fd its records are read from.</summary>
internal static class FaultHandlers
{
    public static Errno Alloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuFaultAlloc>();
        if (cmd.Flags != 0)
            return Errno.EOPNOTSUPP;
        var context = command.Context;
        var rc = context.CreateFaultQueue(out var fault);
        if (rc != Errno.Ok)
            return rc;
        // The fd holds the queue (DESTROY is EBUSY until it is closed), as the kernel's file does.
        context.HoldFaultQueueForFile(fault);
        var file = new FaultQueueFile(fault);
        // The caller's files: a process relaying through an inherited fd cannot be given one.
        var files = command.Caller.Files;
        // POLLIN on the fd while records wait, as the kernel's fault fd reports.
        fault.ReadableChanged = readable => files.SetReadable(file, readable);
        rc = files.Open(file, () => context.ReleaseFaultQueueFromFile(fault), out var fd);
        if (rc != Errno.Ok)
        {
            context.ReleaseFaultQueueFromFile(fault);
            context.AbortFaultQueue(fault);
            return rc;
        }
        cmd.OutFaultId = fault.Id.Value;
        cmd.OutFaultFd = (uint)fd;
        rc = command.Respond(Unsafe.SizeOf<IommuFaultAlloc>());
        if (rc != Errno.Ok)
        {
            files.Close(fd);
            context.AbortFaultQueue(fault);
            return rc;
        }
        context.FinishFaultQueue(fault);
        return Errno.Ok;
    }
}
