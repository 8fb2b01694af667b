using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.Memory;

namespace IommuFd.Abi.Tests.Infrastructure;

/// <summary>
/// Hands out blocks of simulated user memory at increasing page-aligned addresses. Every block
/// is followed by an unmapped guard page, so a read or write past its end faults (EFAULT).
/// </summary>
public sealed class UserHeap
{
    /// <summary>Where blocks start; nothing below is ever mapped.</summary>
    public const ulong Base = 0x7f00_0000_0000;

    /// <summary>An address that is never mapped (NULL is the usual bad pointer).</summary>
    public const ulong BadPointer = 0;

    /// <summary>Another never-mapped address, far from NULL.</summary>
    public const ulong UnmappedPointer = 0x0000_5555_0000_0000;

    private ulong _next = Base;

    public UserHeap(SimulatedUserMemory memory) => Memory = memory;

    public SimulatedUserMemory Memory { get; }

    /// <summary>Maps at least <paramref name="bytes"/> bytes (whole pages) and returns the first address.</summary>
    public ulong Alloc(ulong bytes, bool writable = true)
    {
        var length = RoundUp(Math.Max(bytes, 1));
        var address = _next;
        Memory.Map(address, length, writable);
        _next = address + length + CpuPage.Size; // leave a guard page
        return address;
    }

    /// <summary>
    /// Returns an address <paramref name="bytesBeforeEnd"/> bytes before the end of a mapped block,
    /// so [address, address + bytesBeforeEnd) is readable and the next byte faults.
    /// </summary>
    public ulong AllocAtEnd(int bytesBeforeEnd)
    {
        var length = RoundUp((ulong)bytesBeforeEnd);
        var start = Alloc(length);
        return start + length - (ulong)bytesBeforeEnd;
    }

    /// <summary>
    /// Maps a writable page immediately followed by a read-only page and returns the address
    /// <paramref name="writableBytes"/> bytes before the boundary. Bytes from the boundary on read
    /// as zero and cannot be written, so a struct placed there can be read but not fully copied back.
    /// </summary>
    public ulong AllocStraddlingReadOnly(int writableBytes)
    {
        var writable = _next;
        Memory.Map(writable, CpuPage.Size, writable: true);
        Memory.Map(writable + CpuPage.Size, CpuPage.Size, writable: false);
        _next = writable + 3 * CpuPage.Size;
        return writable + CpuPage.Size - (ulong)writableBytes;
    }

    /// <summary>Allocates room for <paramref name="value"/> and writes it there.</summary>
    public ulong Place<T>(in T value) where T : unmanaged
    {
        var address = Alloc((ulong)Unsafe.SizeOf<T>());
        Write(address, value);
        return address;
    }

    /// <summary>Allocates room for the elements and writes them consecutively.</summary>
    public ulong PlaceArray<T>(ReadOnlySpan<T> items) where T : unmanaged
    {
        var address = Alloc((ulong)(items.Length * Unsafe.SizeOf<T>()));
        WriteBytes(address, MemoryMarshal.AsBytes(items));
        return address;
    }

    public void Write<T>(ulong address, in T value) where T : unmanaged =>
        WriteBytes(address, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value)));

    /// <summary>Writes only the first <paramref name="bytes"/> bytes of <paramref name="value"/>.</summary>
    public void WritePrefix<T>(ulong address, in T value, int bytes) where T : unmanaged =>
        WriteBytes(address, MemoryMarshal.AsBytes(new ReadOnlySpan<T>(in value))[..bytes]);

    public T Read<T>(ulong address) where T : unmanaged
    {
        var value = default(T);
        var bytes = MemoryMarshal.AsBytes(new Span<T>(ref value));
        Check(Memory.Read(address, bytes), address);
        return value;
    }

    public T[] ReadArray<T>(ulong address, int count) where T : unmanaged
    {
        var items = new T[count];
        Check(Memory.Read(address, MemoryMarshal.AsBytes(items.AsSpan())), address);
        return items;
    }

    public void WriteBytes(ulong address, ReadOnlySpan<byte> bytes) => Check(Memory.Write(address, bytes), address);

    public byte[] ReadBytes(ulong address, int count)
    {
        var bytes = new byte[count];
        Check(Memory.Read(address, bytes), address);
        return bytes;
    }

    private static ulong RoundUp(ulong bytes) => (bytes + CpuPage.Mask) & ~CpuPage.Mask;

    private static void Check(Errno rc, ulong address)
    {
        if (rc != Errno.Ok)
            throw new InvalidOperationException($"test memory access at 0x{address:x} failed: {rc}");
    }
}
