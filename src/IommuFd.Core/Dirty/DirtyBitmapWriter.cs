using System.Buffers;
using System.Numerics;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers.PageTables;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Memory;

namespace IommuFd.Core.Dirty;

/// <summary>
/// Copies a domain's dirty bits into a user bitmap, one window of the bitmap at a time: read the
/// window from user memory, walk the IOVA it stands for, OR the dirty pages in, write it back.
/// The window is read before its IOVA is walked, so a bad bitmap address fails (EFAULT) before the
/// dirty bits of that part are cleared. Memory use is one pooled window, whatever the range.
/// </summary>
internal static class DirtyBitmapWriter
{
    /// <summary>Bitmap bytes per window: 32768 pages, 128 MiB of IOVA at 4 KiB.</summary>
    public const int WindowBytes = 4096;

    /// <summary>Runs the request; its range and page size have been validated.</summary>
    public static Errno Run(IUserMemory memory, IDirtyTrackingDomain domain, in DirtyBitmapRequest request)
    {
        var shift = BitOperations.TrailingZeroCount(request.PageSize);
        var last = request.Iova + (request.Length - 1);
        var totalBits = ((last - request.Iova) >> shift) + 1;
        var totalBytes = (totalBits + 7) / 8;
        var window = ArrayPool<byte>.Shared.Rent(WindowBytes);
        try
        {
            var sink = new WindowSink(window, request.Iova, shift);
            for (var offset = 0UL; offset < totalBytes; offset += WindowBytes)
            {
                var bytes = (int)Math.Min(WindowBytes, totalBytes - offset);
                if (UserCopy.From(memory, request.BitmapAddress + offset, window.AsSpan(0, bytes)) != Errno.Ok)
                    return Errno.EFAULT;
                var firstBit = offset * 8;
                var lastBit = Math.Min(firstBit + (ulong)bytes * 8 - 1, totalBits - 1);
                var windowFirst = request.Iova + (firstBit << shift);
                var windowLast = request.Iova + (lastBit << shift) + (request.PageSize - 1);
                sink.Begin(firstBit, windowFirst, windowLast);
                domain.ReadDirty(windowFirst, windowLast, !request.KeepDirty, ref sink);
                if (sink.Touched && UserCopy.To(memory, request.BitmapAddress + offset, window.AsSpan(0, bytes)) != Errno.Ok)
                    return Errno.EFAULT;
            }
            return Errno.Ok;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(window);
        }
    }

    /// <summary>
    /// Sets the bits of one window. A dirty leaf reaching past the window is remembered (its dirty
    /// bit may already be cleared) and applied to the windows that follow.
    /// </summary>
    private struct WindowSink(byte[] window, ulong baseIova, int shift) : IDirtyLeafSink
    {
        private ulong _firstBit;
        private ulong _first;
        private ulong _last;
        private ulong _carryLast;
        private bool _carry;

        public bool Touched { get; private set; }

        public void Begin(ulong firstBit, ulong first, ulong last)
        {
            _firstBit = firstBit;
            _first = first;
            _last = last;
            Touched = false;
            if (_carry && _carryLast >= first)
                Dirty(first, _carryLast - first + 1);
        }

        public void Dirty(ulong iova, ulong size)
        {
            var leafLast = iova + (size - 1);
            var from = Math.Max(iova, _first);
            var to = Math.Min(leafLast, _last);
            if (leafLast > _last)
            {
                _carry = true;
                _carryLast = leafLast;
            }
            if (from > to)
                return;
            SetBits(window, (int)(((from - baseIova) >> shift) - _firstBit), (int)(((to - baseIova) >> shift) - _firstBit));
            Touched = true;
        }

        /// <summary>Sets bits <paramref name="from"/>..<paramref name="to"/> (inclusive) of the window.</summary>
        private static void SetBits(byte[] bits, int from, int to)
        {
            var firstByte = from >> 3;
            var lastByte = to >> 3;
            var head = (byte)(0xff << (from & 7));
            var tail = (byte)(0xff >> (7 - (to & 7)));
            if (firstByte == lastByte)
            {
                bits[firstByte] |= (byte)(head & tail);
                return;
            }
            bits[firstByte] |= head;
            bits.AsSpan(firstByte + 1, lastByte - firstByte - 1).Fill(0xff);
            bits[lastByte] |= tail;
        }
    }
}
