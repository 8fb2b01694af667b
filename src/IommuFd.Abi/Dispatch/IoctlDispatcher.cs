using System.Buffers.Binary;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Dispatch;

/// <summary>What a tracer is told after each ioctl.</summary>
public readonly record struct IoctlEvent(uint Command, string Name, string Input, string Output, int Result, TimeSpan Duration);

/// <summary>
/// The one place that applies the rules common to every iommufd ioctl, in the kernel's order:
/// read the leading u32 size (EFAULT), find the command (ENOTTY), refuse a size below the last
/// required field (EINVAL), copy the struct in with a zeroed tail and refuse non-zero bytes the
/// engine does not know (E2BIG), then run the handler.
/// </summary>
public static class IoctlDispatcher
{
    /// <summary>Large enough for every struct in the table; checked when the table is built.</summary>
    public const int MaxStructSize = 256;

    /// <summary>Called after every ioctl when set (the CLI's --trace). Null costs nothing.</summary>
    public static Action<IoctlEvent>? Observer { get; set; }

    /// <summary>Runs ioctl <paramref name="command"/> with argument <paramref name="userArg"/>: 0 or a negative errno.</summary>
    public static int Ioctl(IommufdContext context, ulong command, nint userArg) => Ioctl(context, context.Host, command, userArg);

    /// <summary>
    /// Runs an ioctl issued by another process sharing the context (a forked child using an
    /// inherited fd): <paramref name="caller"/>'s memory holds the struct and any memory it maps.
    /// </summary>
    public static int Ioctl(IommufdContext context, IommuHost caller, ulong command, nint userArg)
    {
        // Numbers outside the iommufd table belong to the VFIO compatibility API.
        if (!IoctlTable.InRange((uint)command))
            return Handlers.VfioCompat.Ioctl(context, caller, (uint)command, (ulong)userArg);
        var observer = Observer;
        if (observer is null)
            return -(int)Run(context, caller, (uint)command, (ulong)userArg, out _, out _);
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var rc = Run(context, caller, (uint)command, (ulong)userArg, out var op, out var input);
        var elapsed = System.Diagnostics.Stopwatch.GetElapsedTime(started);
        observer(Describe(caller, (uint)command, (ulong)userArg, op, input, rc, elapsed));
        return -(int)rc;
    }

    private static Errno Run(IommufdContext context, IommuHost caller, uint command, ulong arg, out IoctlOp? op, out string? input)
    {
        input = null;
        // Numbers outside the table belong to the VFIO compatibility path, which never reads the argument.
        if (!IoctlTable.InRange(command))
        {
            op = null;
            return Errno.ENOTTY;
        }
        var memory = caller.Memory;
        Span<byte> sizeBytes = stackalloc byte[4];
        op = IoctlTable.Find(command);
        if (memory.Read(arg, sizeBytes) != Errno.Ok)
            return Errno.EFAULT;
        var userSize = BinaryPrimitives.ReadUInt32LittleEndian(sizeBytes);
        if (op is null || op.Number != command)
            return Errno.ENOTTY;
        if (userSize < op.MinSize)
            return Errno.EINVAL;

        Span<byte> buffer = stackalloc byte[MaxStructSize];
        buffer = buffer[..op.Size];
        buffer.Clear();
        var rc = CopyStructFromUser(memory, arg, userSize, buffer);
        if (rc != Errno.Ok)
            return rc;
        if (Observer is not null)
            input = op.Describe(buffer);
        var ucmd = new UserCommand(context, caller, buffer, arg, userSize);
        return op.Handler(ref ucmd);
    }

    /// <summary>
    /// Copies min(user, kernel) bytes; a longer user struct must be zero past the known size
    /// (E2BIG), so newer programs work with older engines as long as they use no new field.
    /// </summary>
    private static Errno CopyStructFromUser(Core.Memory.IUserMemory memory, ulong arg, uint userSize, Span<byte> buffer)
    {
        // The tail is checked before the struct is copied, and page by page: a non-zero byte is
        // E2BIG even when unreadable memory follows it, as the kernel's word-wise scan finds it first.
        if (userSize > buffer.Length)
        {
            Span<byte> chunk = stackalloc byte[(int)Core.CpuPage.Size];
            var at = arg + (ulong)buffer.Length;
            var left = (ulong)userSize - (ulong)buffer.Length;
            while (left > 0)
            {
                var n = (int)Math.Min(left, Core.CpuPage.Size - Core.CpuPage.Offset(at));
                if (memory.Read(at, chunk[..n]) != Errno.Ok)
                    return Errno.EFAULT;
                if (chunk[..n].ContainsAnyExcept((byte)0))
                    return Errno.E2BIG;
                at += (ulong)n;
                left -= (ulong)n;
            }
        }
        var known = (int)Math.Min(userSize, (uint)buffer.Length);
        return Core.FaultInjection.UserCopy.From(memory, arg, buffer[..known]) == Errno.Ok ? Errno.Ok : Errno.EFAULT;
    }

    private static IoctlEvent Describe(IommuHost caller, uint command, ulong arg, IoctlOp? op, string? input, Errno rc, TimeSpan elapsed)
    {
        var name = op is not null && op.Number == command ? op.Name : $"0x{command:x}";
        var output = "";
        if (op is not null && op.Number == command && rc == Errno.Ok)
        {
            Span<byte> after = stackalloc byte[MaxStructSize];
            after = after[..op.Size];
            after.Clear();
            if (caller.Memory.Read(arg, after) == Errno.Ok)
                output = op.Describe(after);
        }
        return new IoctlEvent(command, name, input ?? $"arg=0x{arg:x}", output, -(int)rc, elapsed);
    }
}
