using System.Buffers.Binary;
using IommuFd.Core;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>
/// VFIO_IOMMU_GET_INFO on the compatibility IOAS: struct vfio_iommu_type1_info (argsz, flags,
/// iova_pgsizes, cap_offset; 24 bytes, 16 required) followed by a capability chain — DMA_AVAIL
/// (id 3, 12 bytes) then IOVA_RANGE (id 1, 16 bytes plus 16 per usable range), each starting on
/// 8 bytes. Facts from include/uapi/linux/vfio.h and vfio_compat.c. Nothing is written past argsz:
/// a short buffer gets the caps that fit, cap_offset 0, and the full size in argsz.
/// </summary>
internal static class VfioCompatInfo
{
    private const int InfoSize = 24;
    private const int InfoMinSize = 16;
    private const uint FlagPageSizes = 1, FlagCaps = 2;
    private const ushort CapIovaRange = 1, CapDmaAvail = 3;
    private const int DmaAvailSize = 12;
    private const int IovaRangeHeaderSize = 16, IovaRangeSize = 16;

    public static Errno Get(IommufdContext context, IommuHost caller, ulong arg)
    {
        Span<byte> head = stackalloc byte[InfoMinSize];
        if (UserCopy.From(caller.Memory, arg, head) != Errno.Ok)
            return Errno.EFAULT;
        var argsz = BinaryPrimitives.ReadUInt32LittleEndian(head);
        if (argsz < InfoMinSize)
            return Errno.EINVAL;
        var rc = context.GetCompatIoas(out var ioas);
        if (rc != Errno.Ok)
            return rc;
        rc = context.GetIovaRanges(ioas, out var ranges, out var alignment);
        if (rc != Errno.Ok)
            return rc;

        var dmaAt = InfoSize;
        var iovaAt = dmaAt + Align8(DmaAvailSize);
        var iovaSize = IovaRangeHeaderSize + IovaRangeSize * ranges.Count;
        var total = iovaAt + Align8(iovaSize);
        var image = new byte[total];
        var info = image.AsSpan(0, InfoSize);
        BinaryPrimitives.WriteUInt32LittleEndian(info, (uint)total);
        BinaryPrimitives.WriteUInt32LittleEndian(info[4..], FlagPageSizes | FlagCaps);
        BinaryPrimitives.WriteUInt64LittleEndian(info[8..], ~(Math.Max(alignment, CpuPage.Size) - 1));
        BinaryPrimitives.WriteUInt32LittleEndian(info[16..], argsz >= total ? (uint)InfoSize : 0);

        var dma = image.AsSpan(dmaAt, DmaAvailSize);
        WriteHeader(dma, CapDmaAvail, next: argsz >= iovaAt ? (uint)iovaAt : 0);
        // iommufd's limit is memory, not a mapping count: the largest value the field holds.
        BinaryPrimitives.WriteUInt32LittleEndian(dma[8..], uint.MaxValue);

        var iova = image.AsSpan(iovaAt, iovaSize);
        WriteHeader(iova, CapIovaRange, next: 0);
        BinaryPrimitives.WriteUInt32LittleEndian(iova[8..], (uint)ranges.Count);
        for (var i = 0; i < ranges.Count; i++)
        {
            var range = iova[(IovaRangeHeaderSize + i * IovaRangeSize)..];
            BinaryPrimitives.WriteUInt64LittleEndian(range, ranges[i].Start);
            BinaryPrimitives.WriteUInt64LittleEndian(range[8..], ranges[i].Last);
        }

        // The info struct up to argsz, then each capability that fits whole.
        if (UserCopy.To(caller.Memory, arg, image.AsSpan(0, (int)Math.Min(argsz, (uint)InfoSize))) != Errno.Ok)
            return Errno.EFAULT;
        if (argsz >= dmaAt + DmaAvailSize && UserCopy.To(caller.Memory, arg + (ulong)dmaAt, dma) != Errno.Ok)
            return Errno.EFAULT;
        if (argsz >= iovaAt + iovaSize && UserCopy.To(caller.Memory, arg + (ulong)iovaAt, iova) != Errno.Ok)
            return Errno.EFAULT;
        return Errno.Ok;
    }

    private static int Align8(int size) => (size + 7) & ~7;

    private static void WriteHeader(Span<byte> cap, ushort id, uint next)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(cap, id);
        BinaryPrimitives.WriteUInt16LittleEndian(cap[2..], 1);
        BinaryPrimitives.WriteUInt32LittleEndian(cap[4..], next);
    }
}
