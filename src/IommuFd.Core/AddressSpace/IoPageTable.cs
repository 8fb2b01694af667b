using System.Diagnostics;
using IommuFd.Core.Collections;
using IommuFd.Core.Domains;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Pages;

namespace IommuFd.Core.AddressSpace;

/// <summary>A slice of user pages to place at consecutive IOVAs (one per source area for COPY).</summary>
internal readonly record struct PageSlice(UserPages Pages, ulong StartByte, ulong Length);

/// <summary>
/// The I/O address space's software copy: every IOVA → user-memory mapping, the reserved and
/// allowed IOVA, and the domains that mirror it. The software copy is the truth: each change is
/// applied to it and to every domain, or to none (any failure rolls the whole change back).
/// All public members take <see cref="_lock"/>; see <see cref="LockOrder"/>. The state is all in
/// this file; the parts in IoPageTable.Domains/Access/Ranges.cs act on it under the lock.
/// </summary>
public sealed partial class IoPageTable
{
    // All of the page table's state lives here; the other parts (Domains, Access, Ranges) only
    // act on it, and every private helper that touches it is named …Locked and asserts the lock.

    /// <summary>How often an unmap asks accesses to let go before giving up (EDEADLK).</summary>
    private const int UnmapNotifyAttempts = 100;

    private readonly Lock _lock = new();

    /// <summary>Areas and merged reserved spans together: holes in this tree are free IOVA.</summary>
    private readonly SpanTree _spans = new();

    private int _areaCount;

    /// <summary>Always the largest of what domains, accesses and the huge-page option require (see <see cref="ComputeAlignmentLocked"/>).</summary>
    private ulong _iovaAlignment = 1;

    /// <summary>Domains mirroring the software copy, in attach order.</summary>
    private readonly List<IIoDomain> _domains = [];

    /// <summary>IOMMU_OPTION_HUGE_PAGES 0: domains get entries no larger than a CPU page.</summary>
    private bool _largePagesDisabled;

    /// <summary>Accesses reading, writing and pinning through the software copy.</summary>
    private readonly List<IIoAccess> _accesses = [];

    /// <summary>Sorted, disjoint ranges user space asked to keep usable (ALLOW_IOVAS).</summary>
    private List<IovaRange> _allowed = [];

    /// <summary>Every reservation as made (they may overlap); merged copies live in <see cref="_reservedSpans"/> and the span tree.</summary>
    private readonly List<Reservation> _reservations = [];

    private readonly List<ReservedSpan> _reservedSpans = [];

    /// <summary>Minimum alignment of IOVA, length and page offset for MAP/COPY (starts at 1).</summary>
    public ulong IovaAlignment
    {
        get
        {
            lock (_lock)
                return _iovaAlignment;
        }
    }

    public int AreaCount
    {
        get
        {
            lock (_lock)
                return _areaCount;
        }
    }

    /// <summary>
    /// Whether some area maps a process's memory rather than a file's (MAP rather than MAP_FILE):
    /// such pages belong to that process, so their accounting cannot move (IOAS_CHANGE_PROCESS).
    /// </summary>
    public bool MapsProcessMemory
    {
        get
        {
            lock (_lock)
                return _spans.InOrder().Any(node => node is Area { Pages.Backing: null });
        }
    }

    /// <summary>Adds the pages behind every area to <paramref name="into"/> (COPY shares them, so sets dedupe).</summary>
    internal void CollectPages(HashSet<UserPages> into)
    {
        lock (_lock)
            foreach (var node in _spans.InOrder())
                if (node is Area area)
                    into.Add(area.Pages);
    }

    /// <summary>
    /// Maps user memory [userAddress, +length) at <paramref name="iova"/> (or a chosen IOVA). The
    /// table takes <paramref name="backing"/> over: it is released when nothing maps the memory
    /// any more, at once when the map fails. <paramref name="placementBase"/> is what an
    /// automatic IOVA keeps the alignment of (the file offset for MAP_FILE; the user address when null).
    /// </summary>
    internal Errno MapUser(IommuHost host, AccountMode mode, ulong userAddress, ulong length, IoProt prot, bool allocateIova, ref ulong iova,
        IDisposable? backing = null, ulong? placementBase = null)
    {
        // Facts from the kernel's page allocation: a wrapping user range is EOVERFLOW before a zero length is EINVAL.
        var rc = userAddress > ulong.MaxValue - length ? Errno.EOVERFLOW
            : length == 0 || length > ulong.MaxValue - CpuPage.Size ? Errno.EINVAL
            : Errno.Ok;
        if (rc == Errno.Ok)
            rc = FailNth.Check(FaultSite.PagesAlloc);
        if (rc != Errno.Ok)
        {
            backing?.Dispose();
            return rc;
        }
        var pages = new UserPages(host.Memory, new PinCharge(host, mode), userAddress, length, prot.HasFlag(IoProt.Write))
        {
            Backing = backing,
            PlacementBase = placementBase is { } placement ? CpuPage.AlignDown(placement) : CpuPage.AlignDown(userAddress),
        };
        try
        {
            var slice = new PageSlice(pages, pages.FirstByte, length);
            return MapSlices(new ReadOnlySpan<PageSlice>(in slice), length, prot, allocateIova, ref iova);
        }
        finally
        {
            pages.Release();
        }
    }

    /// <summary>
    /// Collects the pages behind [iova, iova+length): the range must be covered by contiguous areas
    /// (ENOENT otherwise). Used by COPY: each slice holds a reference to its pages, which keeps
    /// them (and a file's mapping) alive after the lock is dropped; the caller releases them.
    /// </summary>
    internal Errno GetPages(ulong iova, ulong length, out List<PageSlice> slices)
    {
        slices = [];
        var rc = IovaRange.FromLength(iova, length, out var want);
        if (rc == Errno.Ok)
            rc = FailNth.Check(FaultSite.PageListAlloc);
        if (rc != Errno.Ok)
            return rc;
        lock (_lock)
        {
            var walk = new ContiguousAreas(_spans, want);
            while (walk.MoveNext())
                slices.Add(new PageSlice(walk.Current.Area.Pages, walk.Current.StartByte, walk.Current.Length));
            if (!walk.Covered)
            {
                slices.Clear();
                return Errno.ENOENT;
            }
            foreach (var slice in slices)
                slice.Pages.AddReference();
            return Errno.Ok;
        }
    }

    /// <summary>Places the slices at consecutive IOVAs, in the software copy and every domain, or not at all.</summary>
    internal Errno MapSlices(ReadOnlySpan<PageSlice> slices, ulong length, IoProt prot, bool allocateIova, ref ulong iova)
    {
        lock (_lock)
        {
            if ((length & (_iovaAlignment - 1)) != 0 || length == 0)
                return Errno.EINVAL;
            Errno rc;
            if (allocateIova)
            {
                var first = slices[0];
                rc = new IovaAllocator(_spans, _allowed, _iovaAlignment).Allocate(first.Pages.PlacementBase + first.StartByte, length, out iova);
            }
            else
            {
                rc = CheckFixedIovaLocked(iova, length);
            }
            if (rc != Errno.Ok)
                return rc;

            // One slice (every MAP) needs no array: a span over the one area.
            var many = slices.Length > 1 ? new Area[slices.Length] : null;
            Area single = null!;
            var at = iova;
            for (var i = 0; i < slices.Length; i++)
            {
                var slice = slices[i];
                rc = ValidateSliceLocked(slice, at, prot);
                if (rc == Errno.Ok)
                    rc = FailNth.Check(FaultSite.AreaAlloc);
                if (rc != Errno.Ok)
                    return rc;
                var area = new Area(slice.Pages, at, slice.StartByte, slice.Length, prot);
                if (many is null)
                    single = area;
                else
                    many[i] = area;
                at += slice.Length;
            }
            ReadOnlySpan<Area> areas = many ?? new ReadOnlySpan<Area>(in single);
            rc = FillDomainsLocked(areas);
            if (rc != Errno.Ok)
                return rc;
            foreach (var area in areas)
            {
                _spans.Insert(area);
                area.Pages.AddReference();
            }
            _areaCount += areas.Length;
            return Errno.Ok;
        }
    }

    /// <summary>
    /// Unmaps every area inside [iova, iova+length). Areas may not be split: an area crossing either
    /// edge is ENOENT, as is a range holding no area. Nothing changes unless everything can.
    /// </summary>
    internal Errno Unmap(ulong iova, ulong length, out ulong unmapped)
    {
        unmapped = 0;
        var rc = IovaRange.FromLength(iova, length, out var range);
        if (rc != Errno.Ok)
            return rc;
        return UnmapRange(range, out unmapped);
    }

    /// <summary>Unmaps everything; an empty table succeeds with nothing unmapped.</summary>
    internal Errno UnmapAll(out ulong unmapped)
    {
        var rc = UnmapRange(IovaRange.Everything, out unmapped);
        return rc == Errno.ENOENT ? Errno.Ok : rc;
    }

    private Errno UnmapRange(IovaRange range, out ulong unmapped)
    {
        unmapped = 0;
        var attempts = 0;
        while (true)
        {
            List<Area>? pinned = null;
            lock (_lock)
            {
                var doomed = new List<Area>();
                foreach (var node in _spans.Intersecting(range.Start, range.Last))
                {
                    if (node is not Area area)
                        continue;
                    if (area.Start < range.Start || area.Last > range.Last)
                        return Errno.ENOENT;
                    doomed.Add(area);
                }
                if (doomed.Count == 0)
                    return Errno.ENOENT;
                foreach (var area in doomed)
                {
                    if (area.Locks > 0)
                        return Errno.EBUSY; // a HW queue keeps its pages
                    if (area.AccessPins > 0)
                        (pinned ??= []).Add(area);
                }
                if (pinned is null)
                {
                    foreach (var area in doomed)
                    {
                        UnfillDomainsLocked(area, _domains.Count);
                        _spans.Remove(area);
                        area.Pages.Release();
                        unmapped += area.Length;
                    }
                    _areaCount -= doomed.Count;
                    return Errno.Ok;
                }
            }
            // Accesses hold pins here: they are told to let go (outside the lock), then we look again.
            if (!ReleaseAccessPins(pinned, ref attempts))
            {
                lock (_lock)
                    foreach (var area in pinned)
                        area.PreventAccess = false;
                return Errno.EDEADLK;
            }
        }
    }

    /// <summary>Every area in IOVA order: (range, user address, protection). A snapshot.</summary>
    public IReadOnlyList<MappingInfo> Mappings()
    {
        lock (_lock)
        {
            var list = new List<MappingInfo>(_areaCount);
            foreach (var node in _spans.InOrder())
                if (node is Area a)
                    list.Add(new MappingInfo(a.Range, a.ProgramAddress, a.Prot, a.Pages.PinnedPages));
            return list;
        }
    }

    /// <summary>Translates one IOVA through the software copy: the user address, or null when unmapped.</summary>
    public ulong? Translate(ulong iova, out IoProt prot)
    {
        lock (_lock)
        {
            prot = IoProt.None;
            if (_spans.FirstIntersecting(iova, iova) is not Area area)
                return null;
            prot = area.Prot;
            return area.UserAddress + (iova - area.Start);
        }
    }

    private Errno CheckFixedIovaLocked(ulong iova, ulong length)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        if ((iova & (_iovaAlignment - 1)) != 0)
            return Errno.EINVAL;
        if (!IovaRange.TryFromLength(iova, length, out var range))
            return Errno.EOVERFLOW;
        Errno rc = Errno.Ok;
        foreach (var node in _spans.Intersecting(range.Start, range.Last))
        {
            if (node is ReservedSpan)
                return Errno.EINVAL;
            rc = Errno.EEXIST;
        }
        return rc;
    }

    private Errno ValidateSliceLocked(PageSlice slice, ulong iova, IoProt prot)
    {
        Debug.Assert(_lock.IsHeldByCurrentThread);
        if (prot.HasFlag(IoProt.Write) && !slice.Pages.Writable)
            return Errno.EPERM;
        if ((CpuPage.Offset(slice.StartByte) & (_iovaAlignment - 1)) != 0)
            return Errno.EINVAL;
        // A COPY gathering areas from a less aligned IOAS may bring a piece no domain here could
        // map; the kernel learns that from the domain (EINVAL), we refuse before touching any.
        if (((iova | slice.Length) & (_iovaAlignment - 1)) != 0)
            return Errno.EINVAL;
        if (iova > ulong.MaxValue - (slice.Length - 1) || slice.StartByte > ulong.MaxValue - (slice.Length - 1))
            return Errno.EOVERFLOW;
        return Errno.Ok;
    }
}

/// <summary>One mapping of the software copy, as reported to tools and tests.</summary>
public readonly record struct MappingInfo(IovaRange Iova, ulong UserAddress, IoProt Prot, ulong PinnedPagesOfSource);
