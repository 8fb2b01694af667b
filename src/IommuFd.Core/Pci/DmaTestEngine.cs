using System.Buffers.Binary;
using System.Runtime.InteropServices;
using IommuFd.Core.Dma;

namespace IommuFd.Core.Pci;

/// <summary>How an operation of the DMA engine ended: bytes of the operation done, and the fault that stopped it (null when complete).</summary>
public readonly record struct DmaTestOutcome(ulong Transferred, DmaFault? Fault);

/// <summary>
/// The DMA test device's engine: copy and fill through a <see cref="DmaPort"/> in chunks of
/// <see cref="ChunkSize"/> bytes through one buffer it keeps, so a 64 MiB copy allocates nothing.
/// A copy goes forward: each chunk is read whole and then written, so overlapping ranges behave
/// like a forward chunked copy (as memmove only when DST is below SRC or the overlap is within
/// one chunk), as a DMA engine with a staging buffer would. A fault stops the operation at its
/// first faulting access; what came before it is transferred (on a read fault the bytes already
/// read are written to DST). Not thread-safe: the owning function locks.
/// </summary>
public sealed class DmaTestEngine
{
    /// <summary>Bytes per read/write pair (a multiple of 8 so every fill chunk starts the pattern afresh).</summary>
    public const int ChunkSize = 128 * 1024;

    private byte[]? _buffer;
    private ulong _fillPattern;
    private int _fillLength;

    /// <summary>Copies <paramref name="length"/> bytes from IOVA <paramref name="source"/> to <paramref name="destination"/>.</summary>
    public DmaTestOutcome Copy(DmaPort port, ulong source, ulong destination, ulong length, uint pasid)
    {
        var buffer = Buffer();
        // The staging buffer now holds copied data, not a fill pattern.
        _fillLength = 0;
        var done = 0UL;
        while (done < length)
        {
            var chunk = buffer.AsSpan(0, (int)Math.Min(ChunkSize, length - done));
            var read = port.Read(unchecked(source + done), chunk, pasid);
            if (read.Fault is { } readFault)
            {
                // The first fault is the one the device reports, even if flushing what it read faults too.
                if (read.BytesTransferred > 0)
                    done += port.Write(unchecked(destination + done), chunk[..(int)read.BytesTransferred], pasid).BytesTransferred;
                return new DmaTestOutcome(done, readFault);
            }
            var write = port.Write(unchecked(destination + done), chunk, pasid);
            done += write.BytesTransferred;
            if (write.Fault is { } writeFault)
                return new DmaTestOutcome(done, writeFault);
        }
        return new DmaTestOutcome(done, null);
    }

    /// <summary>Writes <paramref name="length"/> bytes at <paramref name="destination"/>: byte i is byte (i mod 8) of <paramref name="pattern"/> in little-endian order.</summary>
    public DmaTestOutcome Fill(DmaPort port, ulong destination, ulong length, ulong pattern, uint pasid)
    {
        var buffer = Buffer();
        var needed = length >= ChunkSize ? ChunkSize : (int)((length + 7) & ~7UL);
        if (_fillPattern != pattern || _fillLength < needed)
        {
            var value = BitConverter.IsLittleEndian ? pattern : BinaryPrimitives.ReverseEndianness(pattern);
            MemoryMarshal.Cast<byte, ulong>(buffer.AsSpan(0, needed)).Fill(value);
            _fillPattern = pattern;
            _fillLength = needed;
        }
        var done = 0UL;
        while (done < length)
        {
            var chunk = buffer.AsSpan(0, (int)Math.Min(ChunkSize, length - done));
            var write = port.Write(unchecked(destination + done), chunk, pasid);
            done += write.BytesTransferred;
            if (write.Fault is { } fault)
                return new DmaTestOutcome(done, fault);
        }
        return new DmaTestOutcome(done, null);
    }

    /// <summary>The register value for a fault the IOMMU reported.</summary>
    public static DmaTestFaultReason ReasonOf(DmaFault fault) => fault.Reason switch
    {
        DmaFaultReason.NoPermission => DmaTestFaultReason.Permission,
        DmaFaultReason.NotMapped or DmaFaultReason.StageOneTableNotMapped or DmaFaultReason.MemoryError => DmaTestFaultReason.NotMapped,
        _ => DmaTestFaultReason.Blocked,
    };

    private byte[] Buffer() => _buffer ??= GC.AllocateUninitializedArray<byte>(ChunkSize);
}
