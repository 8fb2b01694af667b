using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Dispatch;

/// <summary>
/// One ioctl in flight: the kernel-sized copy of the caller's struct (zero-extended when the caller's
/// is shorter), where it came from, and how much of it the caller may receive back.
/// </summary>
public ref struct UserCommand
{
    public UserCommand(IommufdContext context, IommuHost caller, Span<byte> buffer, ulong userPointer, uint userSize)
    {
        Context = context;
        Caller = caller;
        Buffer = buffer;
        UserPointer = userPointer;
        UserSize = userSize;
    }

    public IommufdContext Context { get; }

    public Span<byte> Buffer { get; }

    public ulong UserPointer { get; }

    public uint UserSize { get; }

    /// <summary>The process issuing the call: usually the context's own, a forked child for an inherited fd.</summary>
    public IommuHost Caller { get; }

    public readonly IUserMemory Memory => Caller.Memory;

    /// <summary>The struct, read and written in place.</summary>
    public readonly ref T As<T>() where T : unmanaged
    {
        if (Unsafe.SizeOf<T>() > Buffer.Length)
            throw new InvalidOperationException($"{typeof(T).Name} is larger than the command buffer");
        return ref MemoryMarshal.AsRef<T>(Buffer);
    }

    /// <summary>
    /// The end of every command that creates an object: report the struct (its new IDs) back, and
    /// only then publish the object. When the report fails the caller never learnt the IDs, so
    /// the object is left unpublished and the caller's <c>using</c> aborts it.
    /// </summary>
    public readonly Errno RespondThenPublish<T>(PendingObject<T> pending, int length) where T : IommufdObject
    {
        var rc = Respond(length);
        if (rc == Errno.Ok)
            pending.Publish();
        return rc;
    }

    /// <summary>Copies the struct back, no more than the caller's size (EFAULT when unwritable).</summary>
    public readonly Errno Respond(int length) =>
        UserCopy.To(Memory, UserPointer, Buffer[..(int)Math.Min(UserSize, (uint)length)]);
}
