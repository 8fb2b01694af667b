using System.Diagnostics;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Core.AddressSpace;

/// <summary>
/// Accesses: pinning pages and copying bytes through the software copy, for devices that have
/// no IOMMU domain of their own. Their pins share the pages' pin users with the domains.
/// </summary>
public sealed partial class IoPageTable
{
    /// <summary>Adds an access; its alignment joins the IOAS's (EADDRINUSE when existing areas do not meet it).</summary>
    public Errno AddAccess(IIoAccess access)
    {
        lock (_lock)
        {
            var rc = RaiseAlignmentLocked(access.IovaAlignment, out var alignment);
            if (rc != Errno.Ok)
                return rc;
            _accesses.Add(access);
            _iovaAlignment = alignment;
            return Errno.Ok;
        }
    }

    public void RemoveAccess(IIoAccess access)
    {
        lock (_lock)
        {
            _accesses.Remove(access);
            _iovaAlignment = ComputeAlignmentLocked();
        }
    }

    /// <summary>
    /// Pins the CPU pages behind [iova, iova+length). ENOENT for any hole, EINVAL when an area is
    /// being unmapped or a piece does not start (or, unless last, end) on a page boundary, EPERM
    /// when the mapping or the memory does not allow the access. All or nothing.
    /// </summary>
    public Errno PinForAccess(ulong iova, ulong length, bool write, out AccessPin? pin) =>
        PinForAccess(iova, length, write, locked: false, out pin);

    /// <summary>
    /// Like <see cref="PinForAccess(ulong, ulong, bool, out AccessPin?)"/>; a <paramref name="locked"/>
    /// pin is never asked back: unmapping its areas is EBUSY until it is released.
    /// </summary>
    public Errno PinForAccess(ulong iova, ulong length, bool write, bool locked, out AccessPin? pin)
    {
        pin = null;
        var rc = IovaRange.FromLength(iova, length, out var want);
        if (rc == Errno.Ok)
            rc = FailNth.Check(FaultSite.PageListAlloc);
        if (rc != Errno.Ok)
            return rc;
        lock (_lock)
        {
            var slices = new List<PinnedSlice>();
            rc = CollectAccessPiecesLocked(want, write, requirePageAligned: true, out var pieces);
            if (rc == Errno.Ok)
            {
                foreach (var piece in pieces)
                {
                    var slice = new PinnedSlice(piece.Area, piece.StartByte >> CpuPage.Shift, piece.Area.StartByteOf(piece.Last) >> CpuPage.Shift);
                    rc = slice.Pages.Pin(slice.FirstPage, slice.LastPage);
                    if (rc != Errno.Ok)
                        break;
                    slices.Add(slice);
                }
            }
            if (rc != Errno.Ok)
            {
                foreach (var slice in slices)
                    slice.Pages.Unpin(slice.FirstPage, slice.LastPage);
                return rc;
            }
            var userPages = new List<ulong>();
            foreach (var slice in slices)
            {
                slice.Area.AccessPins++;
                if (locked)
                    slice.Area.Locks++;
                for (var p = slice.FirstPage; p <= slice.LastPage; p++)
                    userPages.Add(slice.Pages.Address + (p << CpuPage.Shift));
            }
            pin = new AccessPin(iova, length, slices, [.. userPages], locked);
            return Errno.Ok;
        }
    }

    /// <summary>Releases a pin taken by <c>PinForAccess</c>; releasing twice does nothing.</summary>
    public void UnpinForAccess(AccessPin pin)
    {
        lock (_lock)
        {
            if (pin.Released)
                return;
            pin.Released = true;
            foreach (var slice in pin.Slices)
            {
                slice.Pages.Unpin(slice.FirstPage, slice.LastPage);
                slice.Area.AccessPins--;
                if (pin.Locked)
                    slice.Area.Locks--;
            }
        }
    }

    /// <summary>
    /// Copies between <paramref name="buffer"/> and the memory [iova, +length) maps, at any byte
    /// alignment. ENOENT for a hole, EPERM for a mapping without the needed permission.
    /// </summary>
    public Errno AccessReadWrite(ulong iova, Span<byte> buffer, bool write)
    {
        var rc = IovaRange.FromLength(iova, (ulong)buffer.Length, out var want);
        if (rc != Errno.Ok)
            return rc;
        lock (_lock)
        {
            rc = CollectAccessPiecesLocked(want, write, requirePageAligned: false, out var pieces);
            if (rc != Errno.Ok)
                return rc;
            foreach (var piece in pieces)
            {
                var chunk = buffer.Slice((int)(piece.First - want.Start), (int)piece.Length);
                var user = piece.Area.UserAddress + (piece.First - piece.Area.Start);
                rc = write ? piece.Area.Pages.Memory.Write(user, chunk) : piece.Area.Pages.Memory.Read(user, chunk);
                if (rc != Errno.Ok)
                    return rc;
            }
            return Errno.Ok;
        }
    }

    /// <summary>
    /// The pieces of the areas covering <paramref name="want"/>, each checked for the access:
    /// ENOENT for a hole, EINVAL while an area is being unmapped or (when pinning) for a piece that
    /// does not start, or unless last end, on a page boundary; EPERM without the permission.
    /// </summary>
    private Errno CollectAccessPiecesLocked(IovaRange want, bool write, bool requirePageAligned, out List<AreaPiece> pieces)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        pieces = [];
        var walk = new ContiguousAreas(_spans, want);
        while (walk.MoveNext())
        {
            var (area, first, last) = walk.Current;
            if (area.PreventAccess)
                return Errno.EINVAL;
            if (requirePageAligned &&
                (CpuPage.Offset(area.StartByteOf(first)) != 0 ||
                 (last != want.Last && CpuPage.Offset(area.StartByteOf(last)) != CpuPage.Mask)))
                return Errno.EINVAL;
            if (!area.Prot.HasFlag(write ? IoProt.Write : IoProt.Read))
                return Errno.EPERM;
            if (write && !area.Pages.Writable)
                return Errno.EPERM;
            pieces.Add(walk.Current);
        }
        return walk.Covered ? Errno.Ok : Errno.ENOENT;
    }

    /// <summary>
    /// Asks every access to release pins in the doomed areas, without the lock (they call back in
    /// to unpin). Returns false after too many rounds with pins still held.
    /// </summary>
    private bool ReleaseAccessPins(List<Area> pinned, ref int attempts)
    {
        if (++attempts > UnmapNotifyAttempts)
            return false;
        List<IIoAccess> accesses;
        lock (_lock)
        {
            foreach (var area in pinned)
                area.PreventAccess = true;
            accesses = [.. _accesses];
        }
        foreach (var area in pinned)
            foreach (var access in accesses)
                access.NotifyUnmap(area.Start, area.Length);
        return true;
    }
}
