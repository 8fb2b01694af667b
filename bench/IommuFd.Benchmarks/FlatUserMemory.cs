using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.Memory;

namespace IommuFd.Benchmarks;

/// <summary>
/// A user memory that is one native block at a fixed "user" address: reads and writes are plain
/// copies, so a DMA benchmark measures translation, not the memory model. Pins are not counted.
/// </summary>
internal sealed unsafe class FlatUserMemory : IUserMemory, IDisposable
{
    private readonly byte* _block;

    public FlatUserMemory(ulong userBase, ulong length)
    {
        UserBase = userBase;
        Length = length;
        _block = (byte*)NativeMemory.AlignedAlloc((nuint)length, 4096);
        new Span<byte>(_block, checked((int)length)).Clear();
    }

    public ulong UserBase { get; }

    public ulong Length { get; }

    /// <summary>The block itself, for the memcpy baseline.</summary>
    public Span<byte> Bytes(ulong userAddress, int length) => new(_block + (userAddress - UserBase), length);

    public Errno Read(ulong address, Span<byte> destination)
    {
        if (!Inside(address, (ulong)destination.Length))
            return Errno.EFAULT;
        new ReadOnlySpan<byte>(_block + (address - UserBase), destination.Length).CopyTo(destination);
        return Errno.Ok;
    }

    public Errno Write(ulong address, ReadOnlySpan<byte> source)
    {
        if (!Inside(address, (ulong)source.Length))
            return Errno.EFAULT;
        source.CopyTo(new Span<byte>(_block + (address - UserBase), source.Length));
        return Errno.Ok;
    }

    public Errno Pin(ulong pageAddress, ulong pageCount, bool writable) =>
        Inside(pageAddress, pageCount << CpuPage.Shift) ? Errno.Ok : Errno.EFAULT;

    public void Unpin(ulong pageAddress, ulong pageCount)
    {
    }

    public ulong PinCount(ulong address) => 0;

    public bool SamePage(ulong a, ulong b) => CpuPage.AlignDown(a) == CpuPage.AlignDown(b);

    private bool Inside(ulong address, ulong length) =>
        address >= UserBase && length <= Length && address - UserBase <= Length - length;

    public void Dispose() => NativeMemory.AlignedFree(_block);
}
