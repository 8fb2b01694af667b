using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
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
        var context = command.Context;
        var rc = context.BeginCreateIoas(out var ioas);
        if (rc != Errno.Ok)
            return rc;
        cmd.OutIoasId = ioas.Id.Value;
        rc = command.Respond(Unsafe.SizeOf<IommuIoasAlloc>());
        if (rc != Errno.Ok)
        {
            context.Objects.Abort(ioas);
            return rc;
        }
        context.Objects.Publish(ioas);
        return Errno.Ok;
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
                if (command.Memory.Write(cmd.AllowedIovas + (ulong)cmd.NumIovas * 16, element) != Errno.Ok)
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
        var context = command.Context;
        var id = new IoasId(cmd.IoasId);
        if (context.WithIoas(id, _ => Errno.Ok) is var found and not Errno.Ok)
            return found;
        // Loaded one by one so a bad element fails where the kernel's loop would.
        var ranges = new List<IovaRange>();
        Span<byte> element = stackalloc byte[16];
        for (var i = 0u; i < cmd.NumIovas; i++)
        {
            if (command.Memory.Read(cmd.AllowedIovas + (ulong)i * 16, element) != Errno.Ok)
                return Errno.EFAULT;
            var r = MemoryMarshal.Read<IommuIovaRange>(element);
            if (r.Start >= r.Last)
                return Errno.EINVAL;
            var range = new IovaRange(r.Start, r.Last);
            foreach (var other in ranges)
                if (other.Intersects(range))
                    return Errno.EINVAL;
            ranges.Add(range);
        }
        return context.AllowIovas(id, ranges);
    }

    public static Errno Map(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasMap>();
        var rc = CheckMapRequest(cmd.Flags, cmd.Reserved != 0, cmd.Iova, cmd.Length);
        if (rc != Errno.Ok)
            return rc;
        var iova = cmd.Iova;
        rc = command.Context.Map(new IoasId(cmd.IoasId), cmd.UserVa, cmd.Length, ProtOf(cmd.Flags), PlacementOf(cmd.Flags), ref iova, command.Caller);
        if (rc != Errno.Ok)
            return rc;
        cmd.Iova = iova;
        return command.Respond(Unsafe.SizeOf<IommuIoasMap>());
    }

    public static Errno MapFile(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuIoasMapFile>();
        var rc = CheckMapRequest(cmd.Flags, reservedSet: false, cmd.Iova, cmd.Length);
        if (rc != Errno.Ok)
            return rc;
        var iova = cmd.Iova;
        rc = command.Context.MapFile(new IoasId(cmd.IoasId), cmd.Fd, cmd.Start, cmd.Length, ProtOf(cmd.Flags), PlacementOf(cmd.Flags), ref iova, command.Caller);
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
        if (cmd.Length == ulong.MaxValue || cmd.SrcIova == ulong.MaxValue || cmd.DstIova == ulong.MaxValue)
            return Errno.EOVERFLOW;
        if ((cmd.Flags & (UapiValues.MapReadable | UapiValues.MapWriteable)) == 0)
            return Errno.EINVAL;
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

    /// <summary>The checks MAP and MAP_FILE make before any look-up, in the kernel's order.</summary>
    private static Errno CheckMapRequest(uint flags, bool reservedSet, ulong iova, ulong length)
    {
        if ((flags & ~UapiValues.MapKnownFlags) != 0 || reservedSet)
            return Errno.EOPNOTSUPP;
        if (iova == ulong.MaxValue || length == ulong.MaxValue)
            return Errno.EOVERFLOW;
        if ((flags & (UapiValues.MapReadable | UapiValues.MapWriteable)) == 0)
            return Errno.EINVAL;
        return Errno.Ok;
    }

    private static IoProt ProtOf(uint flags) =>
        ((flags & UapiValues.MapReadable) != 0 ? IoProt.Read : IoProt.None) |
        ((flags & UapiValues.MapWriteable) != 0 ? IoProt.Write : IoProt.None);

    private static IovaPlacement PlacementOf(uint flags) =>
        (flags & UapiValues.MapFixedIova) != 0 ? IovaPlacement.Fixed : IovaPlacement.Automatic;
}
