using System.Numerics;
using IommuFd.Core.Domains;

namespace IommuFd.Core.AddressSpace;

/// <summary>
/// Domains mirror the software copy. While at least one domain is attached every area's pages
/// are pinned once (not once per domain). Filling and every change roll back completely on failure.
/// </summary>
public sealed partial class IoPageTable
{
    public int DomainCount
    {
        get
        {
            lock (_lock)
                return _domains.Count;
        }
    }

    public bool LargePagesEnabled
    {
        get
        {
            lock (_lock)
                return !_largePagesDisabled;
        }
    }

    /// <summary>
    /// Attaches a domain and fills it from the software copy. Fails, leaving everything as it was,
    /// when the domain's page size exceeds a CPU page (EINVAL), an existing mapping is not aligned to
    /// it or lies outside its aperture (EADDRINUSE), or the domain refuses a mapping (its errno).
    /// </summary>
    public Errno AddDomain(IIoDomain domain)
    {
        lock (_lock)
        {
            if (_domains.Contains(domain))
                return Errno.EEXIST;
            var alignment = Math.Max(SmallestPage(domain), _iovaAlignment);
            if (alignment > CpuPage.Size)
                return Errno.EINVAL;
            if (alignment != _iovaAlignment && !AreasAligned(alignment))
                return Errno.EADDRINUSE;

            var aperture = domain.Aperture;
            var rc = Errno.Ok;
            if (aperture.Start != 0)
                rc = ReserveLocked(0, aperture.Start - 1, domain);
            if (rc == Errno.Ok && aperture.Last != ulong.MaxValue)
                rc = ReserveLocked(aperture.Last + 1, ulong.MaxValue, domain);
            if (rc == Errno.Ok)
                rc = FillDomain(domain);
            if (rc != Errno.Ok)
            {
                UnreserveLocked(domain);
                return rc;
            }
            _iovaAlignment = alignment;
            _domains.Add(domain);
            return Errno.Ok;
        }
    }

    /// <summary>Detaches a domain: it is emptied, its reservations dropped and the alignment recomputed.</summary>
    public void RemoveDomain(IIoDomain domain)
    {
        lock (_lock)
        {
            var index = _domains.IndexOf(domain);
            if (index < 0)
                return;
            _domains.RemoveAt(index);
            var lastDomain = _domains.Count == 0;
            foreach (var node in _spans.InOrder())
            {
                if (node is not Area area)
                    continue;
                domain.Unmap(area.Start, area.Length);
                if (lastDomain)
                    area.Pages.Unpin(area.FirstPageIndex, area.LastPageIndex);
            }
            UnreserveLocked(domain);
            _iovaAlignment = ComputeAlignment();
        }
    }

    /// <summary>IOMMU_OPTION_HUGE_PAGES: disabling needs no domain holding mappings (EINVAL).</summary>
    public Errno SetLargePages(bool enabled)
    {
        lock (_lock)
        {
            if (enabled)
            {
                _largePagesDisabled = false;
                _iovaAlignment = ComputeAlignment();
                return Errno.Ok;
            }
            if (_largePagesDisabled)
                return Errno.Ok;
            if (_domains.Count != 0 && _areaCount != 0)
                return Errno.EINVAL;
            _largePagesDisabled = true;
            var alignment = ComputeAlignment();
            if (alignment > _iovaAlignment && !AreasAligned(alignment))
            {
                _largePagesDisabled = false;
                return Errno.EADDRINUSE;
            }
            _iovaAlignment = alignment;
            return Errno.Ok;
        }
    }

    private ulong ComputeAlignment()
    {
        var alignment = _largePagesDisabled ? CpuPage.Size : 1UL;
        foreach (var d in _domains)
            alignment = Math.Max(alignment, SmallestPage(d));
        foreach (var a in _accesses)
            alignment = Math.Max(alignment, a.IovaAlignment);
        return alignment;
    }

    private static ulong SmallestPage(IIoDomain domain) =>
        domain.PageSizeBitmap == 0 ? CpuPage.Size : 1UL << BitOperations.TrailingZeroCount(domain.PageSizeBitmap);

    private bool AreasAligned(ulong alignment)
    {
        var mask = alignment - 1;
        foreach (var node in _spans.InOrder())
            if (node is Area a && ((a.Start & mask) != 0 || (a.Length & mask) != 0 || (a.PageOffset & mask) != 0))
                return false;
        return true;
    }

    /// <summary>Maps every existing area into a new domain; on failure unmaps what was filled.</summary>
    private Errno FillDomain(IIoDomain domain)
    {
        var firstDomain = _domains.Count == 0;
        var filled = new List<Area>();
        foreach (var node in _spans.InOrder())
        {
            if (node is not Area area)
                continue;
            var rc = firstDomain ? area.Pages.Pin(area.FirstPageIndex, area.LastPageIndex) : Errno.Ok;
            if (rc == Errno.Ok)
            {
                rc = MapIntoDomain(domain, area);
                if (rc != Errno.Ok && firstDomain)
                    area.Pages.Unpin(area.FirstPageIndex, area.LastPageIndex);
            }
            if (rc != Errno.Ok)
            {
                foreach (var done in filled)
                {
                    domain.Unmap(done.Start, done.Length);
                    if (firstDomain)
                        done.Pages.Unpin(done.FirstPageIndex, done.LastPageIndex);
                }
                return rc;
            }
            filled.Add(area);
        }
        return Errno.Ok;
    }

    /// <summary>Pins new areas and maps them into every domain; on failure nothing stays pinned or mapped.</summary>
    private Errno FillDomains(List<Area> areas)
    {
        if (_domains.Count == 0)
            return Errno.Ok;
        for (var i = 0; i < areas.Count; i++)
        {
            var rc = FillAllDomains(areas[i]);
            if (rc == Errno.Ok)
                continue;
            for (var j = 0; j < i; j++)
                UnfillDomains(areas[j], _domains.Count);
            return rc;
        }
        return Errno.Ok;
    }

    private Errno FillAllDomains(Area area)
    {
        var rc = area.Pages.Pin(area.FirstPageIndex, area.LastPageIndex);
        if (rc != Errno.Ok)
            return rc;
        for (var d = 0; d < _domains.Count; d++)
        {
            rc = MapIntoDomain(_domains[d], area);
            if (rc != Errno.Ok)
            {
                UnfillDomains(area, d);
                return rc;
            }
        }
        return Errno.Ok;
    }

    /// <summary>
    /// Maps one area into one domain. With large pages disabled (IOMMU_OPTION_HUGE_PAGES 0) the
    /// domain holds only its smallest entries: a CPU page for every real format, and the mock's
    /// 2 KiB IO page, which is what the kernel's page-sized batches leave in a mock domain (the
    /// selftest's dirty-bitmap checks count on one dirty bit per mock page). Otherwise it may use
    /// any page size the alignment allows.
    /// </summary>
    private Errno MapIntoDomain(IIoDomain domain, Area area) =>
        domain.Map(area.Start, area.UserAddress, area.Length, area.Prot, _largePagesDisabled ? SmallestPage(domain) : ulong.MaxValue);

    /// <summary>Unmaps an area from the first <paramref name="domainCount"/> domains and drops its pin.</summary>
    private void UnfillDomains(Area area, int domainCount)
    {
        if (_domains.Count == 0)
            return;
        for (var d = 0; d < domainCount; d++)
            _domains[d].Unmap(area.Start, area.Length);
        area.Pages.Unpin(area.FirstPageIndex, area.LastPageIndex);
    }
}
