namespace IommuFd.Core.AddressSpace;

public sealed partial class IoPageTable
{
    /// <summary>
    /// VFIO type1 (v1) only: splits the area holding <paramref name="iova"/> so that an area ends
    /// there, letting a later unmap take part of what was one MAP (the kernel's iopt_cut_iova).
    /// Nothing to do when no area holds it or one already ends there. EINVAL when the second part
    /// would not start on the IOVA alignment in IOVA and in its pages; EBUSY while accesses pin the area.
    /// Domains are left alone: with large pages off they hold entries no larger than that alignment.
    /// </summary>
    internal Errno CutAfter(ulong iova)
    {
        lock (_lock)
        {
            if (_spans.FirstIntersecting(iova, iova) is not Area area || area.Last == iova)
                return Errno.Ok;
            var cut = iova + 1;
            var mask = _iovaAlignment - 1;
            if ((cut & mask) != 0 || (area.StartByteOf(cut) & mask) != 0)
                return Errno.EINVAL;
            if (area.AccessPins > 0 || area.PreventAccess)
                return Errno.EBUSY;
            var head = new Area(area.Pages, area.Start, area.StartByte, cut - area.Start, area.Prot);
            var tail = new Area(area.Pages, cut, area.StartByteOf(cut), area.Last - iova, area.Prot);
            // With domains present the area's pages carry one pin for it; the two parts now share it.
            if (_domains.Count != 0)
                area.Pages.SplitUser(area.FirstPageIndex, area.LastPageIndex, tail.FirstPageIndex);
            _spans.Remove(area);
            _spans.Insert(head);
            _spans.Insert(tail);
            area.Pages.AddReference(); // two areas now map these pages, each holding a reference
            _areaCount++;
            return Errno.Ok;
        }
    }
}
