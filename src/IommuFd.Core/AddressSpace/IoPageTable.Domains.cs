using System.Diagnostics;
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
            if (SmallestPage(domain) > CpuPage.Size)
                return Errno.EINVAL;
            var rc = RaiseAlignmentLocked(SmallestPage(domain), out var alignment);
            if (rc != Errno.Ok)
                return rc;

            var aperture = domain.Aperture;
            if (aperture.Start != 0)
                rc = ReserveLocked(0, aperture.Start - 1, domain);
            if (rc == Errno.Ok && aperture.Last != ulong.MaxValue)
                rc = ReserveLocked(aperture.Last + 1, ulong.MaxValue, domain);
            if (rc == Errno.Ok)
                rc = FillDomainLocked(domain);
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
            _iovaAlignment = ComputeAlignmentLocked();
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
                _iovaAlignment = ComputeAlignmentLocked();
                return Errno.Ok;
            }
            if (_largePagesDisabled)
                return Errno.Ok;
            if (_domains.Count != 0 && _areaCount != 0)
                return Errno.EINVAL;
            var rc = RaiseAlignmentLocked(CpuPage.Size, out var alignment);
            if (rc != Errno.Ok)
                return rc;
            _largePagesDisabled = true;
            _iovaAlignment = alignment;
            return Errno.Ok;
        }
    }

    /// <summary>
    /// The one rule for a new alignment requirement (a domain's smallest page, an access's pin
    /// granule, huge pages off): the IOAS's alignment becomes the larger of the two, which is only
    /// allowed when every existing area already meets it (EADDRINUSE otherwise). Nothing changes
    /// here; the caller stores <paramref name="alignment"/> once its own change is made.
    /// </summary>
    private Errno RaiseAlignmentLocked(ulong required, out ulong alignment)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        alignment = Math.Max(_iovaAlignment, required);
        return alignment == _iovaAlignment || AreasAlignedLocked(alignment) ? Errno.Ok : Errno.EADDRINUSE;
    }

    /// <summary>What the current domains, accesses and huge-page option require (may lower the alignment after a removal).</summary>
    private ulong ComputeAlignmentLocked()
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        var alignment = _largePagesDisabled ? CpuPage.Size : 1UL;
        foreach (var d in _domains)
            alignment = Math.Max(alignment, SmallestPage(d));
        foreach (var a in _accesses)
            alignment = Math.Max(alignment, a.IovaAlignment);
        return alignment;
    }

    private static ulong SmallestPage(IIoDomain domain) =>
        domain.PageSizeBitmap == 0 ? CpuPage.Size : 1UL << BitOperations.TrailingZeroCount(domain.PageSizeBitmap);

    private bool AreasAlignedLocked(ulong alignment)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        var mask = alignment - 1;
        foreach (var node in _spans.InOrder())
            if (node is Area a && ((a.Start & mask) != 0 || (a.Length & mask) != 0 || (a.PageOffset & mask) != 0))
                return false;
        return true;
    }

    /// <summary>Maps every existing area into a new domain; on failure unmaps what was filled.</summary>
    private Errno FillDomainLocked(IIoDomain domain)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        var firstDomain = _domains.Count == 0;
        var filled = new List<Area>();
        foreach (var node in _spans.InOrder())
        {
            if (node is not Area area)
                continue;
            var rc = firstDomain ? area.Pages.Pin(area.FirstPageIndex, area.LastPageIndex) : Errno.Ok;
            if (rc == Errno.Ok)
            {
                rc = MapIntoDomainLocked(domain, area);
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
    private Errno FillDomainsLocked(ReadOnlySpan<Area> areas)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        if (_domains.Count == 0)
            return Errno.Ok;
        for (var i = 0; i < areas.Length; i++)
        {
            var rc = FillAllDomainsLocked(areas[i]);
            if (rc == Errno.Ok)
                continue;
            for (var j = 0; j < i; j++)
                UnfillDomainsLocked(areas[j], _domains.Count);
            return rc;
        }
        return Errno.Ok;
    }

    private Errno FillAllDomainsLocked(Area area)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        var rc = area.Pages.Pin(area.FirstPageIndex, area.LastPageIndex);
        if (rc != Errno.Ok)
            return rc;
        for (var d = 0; d < _domains.Count; d++)
        {
            rc = MapIntoDomainLocked(_domains[d], area);
            if (rc != Errno.Ok)
            {
                UnfillDomainsLocked(area, d);
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
    private Errno MapIntoDomainLocked(IIoDomain domain, Area area)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        return domain.Map(area.Start, area.UserAddress, area.Length, area.Prot, _largePagesDisabled ? SmallestPage(domain) : ulong.MaxValue);
    }

    /// <summary>Unmaps an area from the first <paramref name="domainCount"/> domains and drops its pin.</summary>
    private void UnfillDomainsLocked(Area area, int domainCount)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        if (_domains.Count == 0)
            return;
        for (var d = 0; d < domainCount; d++)
            _domains[d].Unmap(area.Start, area.Length);
        area.Pages.Unpin(area.FirstPageIndex, area.LastPageIndex);
    }
}
