using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.Memory;

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

    /// <summary>Copies the struct back, no more than the caller's size (EFAULT when unwritable).</summary>
    public readonly Errno Respond(int length) =>
        Memory.Write(UserPointer, Buffer[..(int)Math.Min(UserSize, (uint)length)]);
}
