using IommuFd.Core.Pages;

namespace IommuFd.Core.AddressSpace;

/// <summary>
/// Accesses: pinning pages and copying bytes through the software copy, for devices that have
/// no IOMMU domain of their own. Their pins share the pages' pin users with the domains.
/// </summary>
public sealed partial class IoPageTable
{
    private readonly List<IIoAccess> _accesses = [];

    /// <summary>How often an unmap asks accesses to let go before giving up (EDEADLK).</summary>
    private const int UnmapNotifyAttempts = 100;

    /// <summary>Adds an access; its alignment joins the IOAS's (EADDRINUSE when existing areas do not meet it).</summary>
    public Errno AddAccess(IIoAccess access)
    {
        lock (_lock)
        {
            _accesses.Add(access);
            var alignment = ComputeAlignment();
            if (alignment > _iovaAlignment && !AreasAligned(alignment))
            {
                _accesses.Remove(access);
                return Errno.EADDRINUSE;
            }
            _iovaAlignment = alignment;
            return Errno.Ok;
        }
    }

    public void RemoveAccess(IIoAccess access)
    {
        lock (_lock)
        {
            _accesses.Remove(access);
            _iovaAlignment = ComputeAlignment();
        }
    }

    /// <summary>
    /// Pins the CPU pages behind [iova, iova+length). ENOENT for any hole, EINVAL when an area is
    /// being unmapped or a piece does not start (or, unless last, end) on a page boundary, EPERM
    /// when the mapping or the memory does not allow the access. All or nothing.
    /// </summary>
    public Errno PinForAccess(ulong iova, ulong length, bool write, out AccessPin? pin)
    {
        pin = null;
        if (length == 0)
            return Errno.EINVAL;
        if (!IovaRange.TryFromLength(iova, length, out var want))
            return Errno.EOVERFLOW;
        lock (_lock)
        {
            var slices = new List<(Area, UserPages, ulong, ulong)>();
            var rc = CollectAccessSlices(want, write, requirePageAligned: true, out var areas);
            if (rc == Errno.Ok)
            {
                foreach (var (area, cursor, last) in areas)
                {
                    var first = area.StartByteOf(cursor) >> CpuPage.Shift;
                    var lastPage = area.StartByteOf(last) >> CpuPage.Shift;
                    rc = area.Pages.Pin(first, lastPage);
                    if (rc != Errno.Ok)
                        break;
                    slices.Add((area, area.Pages, first, lastPage));
                }
            }
            if (rc != Errno.Ok)
            {
                foreach (var (_, pages, first, last) in slices)
                    pages.Unpin(first, last);
                return rc;
            }
            var userPages = new List<ulong>();
            foreach (var (area, pages, first, last) in slices)
            {
                area.AccessPins++;
                for (var p = first; p <= last; p++)
                    userPages.Add(pages.Uptr + (p << CpuPage.Shift));
            }
            pin = new AccessPin(iova, length, slices, [.. userPages]);
            return Errno.Ok;
        }
    }

    /// <summary>Releases a pin taken by <see cref="PinForAccess"/>; releasing twice does nothing.</summary>
    public void UnpinForAccess(AccessPin pin)
    {
        lock (_lock)
        {
            if (pin.Released)
                return;
            pin.Released = true;
            foreach (var (area, pages, first, last) in pin.Slices)
            {
                pages.Unpin(first, last);
                area.AccessPins--;
            }
        }
    }

    /// <summary>
    /// Copies between <paramref name="buffer"/> and the memory [iova, +length) maps, at any byte
    /// alignment. ENOENT for a hole, EPERM for a mapping without the needed permission.
    /// </summary>
    public Errno AccessReadWrite(ulong iova, Span<byte> buffer, bool write)
    {
        if (buffer.IsEmpty)
            return Errno.EINVAL;
        if (!IovaRange.TryFromLength(iova, (ulong)buffer.Length, out var want))
            return Errno.EOVERFLOW;
        lock (_lock)
        {
            var rc = CollectAccessSlices(want, write, requirePageAligned: false, out var areas);
            if (rc != Errno.Ok)
                return rc;
            foreach (var (area, cursor, last) in areas)
            {
                var chunk = buffer.Slice((int)(cursor - want.Start), (int)(last - cursor + 1));
                var user = area.UserAddress + (cursor - area.Start);
                rc = write ? area.Pages.Memory.Write(user, chunk) : area.Pages.Memory.Read(user, chunk);
                if (rc != Errno.Ok)
                    return rc;
            }
            return Errno.Ok;
        }
    }

    /// <summary>The contiguous areas covering <paramref name="want"/>, each with the part of it that falls inside.</summary>
    private Errno CollectAccessSlices(IovaRange want, bool write, bool requirePageAligned, out List<(Area Area, ulong First, ulong Last)> slices)
    {
        slices = [];
        var cursor = want.Start;
        var node = _spans.FirstIntersecting(cursor, cursor);
        while (true)
        {
            if (node is not Area area || area.Start > cursor)
                return Errno.ENOENT;
            var last = Math.Min(area.Last, want.Last);
            if (area.PreventAccess)
                return Errno.EINVAL;
            if (requirePageAligned &&
                (CpuPage.Offset(area.StartByteOf(cursor)) != 0 ||
                 (last != want.Last && CpuPage.Offset(area.StartByteOf(last)) != CpuPage.Mask)))
                return Errno.EINVAL;
            if (!area.Prot.HasFlag(write ? IoProt.Write : IoProt.Read))
                return Errno.EPERM;
            if (write && !area.Pages.Writable)
                return Errno.EPERM;
            slices.Add((area, cursor, last));
            if (last == want.Last)
                return Errno.Ok;
            cursor = last + 1;
            node = _spans.Next(area);
        }
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
