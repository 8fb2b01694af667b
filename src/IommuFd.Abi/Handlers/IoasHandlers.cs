using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>The IOAS commands: validation in the kernel's order, then one call into the engine.</summary>
internal static class IoasHandlers
{
    public static Errno Alloc(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasAlloc>();
        if (cmd.Flags != 0)
            return Errno.EOPNOTSUPP;
        using var ioas = command.Context.BeginCreateIoas();
        if (!ioas.Reserved)
            return ioas.Status;
        cmd.OutIoasId = ioas.Value.Id.Value;
        return command.RespondThenPublish(ioas, Unsafe.SizeOf<IommuIoasAlloc>());
    }

    public static Errno IovaRanges(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasIovaRanges>();
        if (cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        var rc = command.Context.GetIovaRanges(new IoasId(cmd.IoasId), out var ranges, out var alignment);
        if (rc != Errno.Ok)
            return rc;
        var capacity = cmd.NumIovas;
        cmd.NumIovas = 0;
        cmd.OutIovaAlignment = alignment;
        Span<byte> element = stackalloc byte[16];
        foreach (var range in ranges)
        {
            if (cmd.NumIovas < capacity)
            {
                MemoryMarshal.Write(element, new IommuIovaRange { Start = range.Start, Last = range.Last });
                if (UserCopy.To(command.Memory, cmd.AllowedIovas + (ulong)cmd.NumIovas * 16, element) != Errno.Ok)
                    return Errno.EFAULT;
            }
            cmd.NumIovas++;
        }
        rc = command.Respond(Unsafe.SizeOf<IommuIoasIovaRanges>());
        if (rc != Errno.Ok)
            return rc;
        return cmd.NumIovas > capacity ? Errno.EMSGSIZE : Errno.Ok;
    }

    public static Errno AllowIovas(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasAllowIovas>();
        if (cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        var (memory, array) = (command.Memory, cmd.AllowedIovas);
        // Elements stay in user memory until Core reaches them, so a bad one fails where the kernel's loop would.
        return command.Context.AllowIovas(new IoasId(cmd.IoasId), cmd.NumIovas, (uint i, out IovaRange range) =>
        {
            range = default;
            Span<IommuIovaRange> element = stackalloc IommuIovaRange[1];
            if (UserCopy.From(memory, array + (ulong)i * (ulong)Unsafe.SizeOf<IommuIovaRange>(), MemoryMarshal.AsBytes(element)) != Errno.Ok)
                return Errno.EFAULT;
            range = new IovaRange(element[0].Start, element[0].Last);
            return Errno.Ok;
        });
    }

    public static Errno Map(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasMap>();
        if ((cmd.Flags & ~UapiValues.MapKnownFlags) != 0 || cmd.Reserved != 0)
            return Errno.EOPNOTSUPP;
        var iova = cmd.Iova;
        var rc = command.Context.Map(new IoasId(cmd.IoasId), cmd.UserVa, cmd.Length, ProtOf(cmd.Flags), PlacementOf(cmd.Flags), ref iova, command.Caller);
        if (rc != Errno.Ok)
            return rc;
        cmd.Iova = iova;
        return command.Respond(Unsafe.SizeOf<IommuIoasMap>());
    }

    public static Errno MapFile(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasMapFile>();
        if ((cmd.Flags & ~UapiValues.MapKnownFlags) != 0)
            return Errno.EOPNOTSUPP;
        var iova = cmd.Iova;
        var rc = command.Context.MapFile(new IoasId(cmd.IoasId), cmd.Fd, cmd.Start, cmd.Length, ProtOf(cmd.Flags), PlacementOf(cmd.Flags), ref iova, command.Caller);
        if (rc != Errno.Ok)
            return rc;
        cmd.Iova = iova;
        return command.Respond(Unsafe.SizeOf<IommuIoasMapFile>());
    }

    public static Errno Copy(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasCopy>();
        if ((cmd.Flags & ~UapiValues.MapKnownFlags) != 0)
            return Errno.EOPNOTSUPP;
        var iova = cmd.DstIova;
        var rc = command.Context.Copy(new IoasId(cmd.DstIoasId), new IoasId(cmd.SrcIoasId), cmd.SrcIova, cmd.Length,
            ProtOf(cmd.Flags), PlacementOf(cmd.Flags), ref iova);
        if (rc != Errno.Ok)
            return rc;
        cmd.DstIova = iova;
        return command.Respond(Unsafe.SizeOf<IommuIoasCopy>());
    }

    public static Errno Unmap(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasUnmap>();
        var rc = command.Context.Unmap(new IoasId(cmd.IoasId), cmd.Iova, cmd.Length, out var unmapped);
        if (rc != Errno.Ok)
            return rc;
        cmd.Length = unmapped;
        return command.Respond(Unsafe.SizeOf<IommuIoasUnmap>());
    }

    private static IoProt ProtOf(uint flags) =>
        ((flags & UapiValues.MapReadable) != 0 ? IoProt.Read : IoProt.None) |
        ((flags & UapiValues.MapWriteable) != 0 ? IoProt.Write : IoProt.None);

    private static IovaPlacement PlacementOf(uint flags) =>
        (flags & UapiValues.MapFixedIova) != 0 ? IovaPlacement.Fixed : IovaPlacement.Automatic;
}
