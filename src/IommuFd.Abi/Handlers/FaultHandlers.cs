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
        // The caller's files: a process relaying through an inherited fd cannot be given one.
        using var fault = command.Context.BeginCreateFaultQueue(command.Caller.Files, queue => new FaultQueueFile(queue), out var fd);
        if (!fault.Reserved)
            return fault.Status;
        cmd.OutFaultId = fault.Value.Id.Value;
        cmd.OutFaultFd = (uint)fd;
        return command.RespondThenPublish(fault, Unsafe.SizeOf<IommuFaultAlloc>());
    }
}
