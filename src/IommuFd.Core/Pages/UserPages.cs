using IommuFd.Core.Collections;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Memory;

namespace IommuFd.Core.Pages;

/// <summary>
/// The user memory behind one MAP: a run of whole CPU pages from <see cref="Uptr"/>. COPY makes
/// further areas share this object, so its pages are pinned and charged once however many areas,
/// domains or accesses use them. Pins are counted per page by the users that need them; a page
/// is pinned in user memory (and charged) while at least one user covers it.
/// </summary>
internal sealed class UserPages
{
    // Created on first pin: most areas of a large IOAS without domains are never pinned, and
    // these would otherwise double the memory each mapping costs.
    private Lock? _lock;
    private RangeCounter? _users;

    private Lock Sync => LazyInitializer.EnsureInitialized(ref _lock);

    public UserPages(IUserMemory memory, PinCharge account, ulong userAddress, ulong length, bool writable)
    {
        Memory = memory;
        Account = account;
        Uptr = CpuPage.AlignDown(userAddress);
        FirstByte = CpuPage.Offset(userAddress);
        PageCount = (FirstByte + length + CpuPage.Mask) >> CpuPage.Shift;
        Writable = writable;
        PlacementBase = Uptr;
    }

    public IUserMemory Memory { get; }

    /// <summary>What keeps the memory reachable (a file mapping), released with the last reference.</summary>
    public IDisposable? Backing { get; init; }

    /// <summary>
    /// Page-aligned address whose alignment an automatic IOVA keeps: the user address for MAP,
    /// the file offset for MAP_FILE (where the engine happened to map the file is no one's business).
    /// </summary>
    public ulong PlacementBase { get; init; }

    // The creator's reference, until it lets go (see Release).
    private int _references = 1;

    /// <summary>
    /// Takes a reference: each area mapping these pages holds one, and so does a COPY between
    /// reading its source and mapping its destination, so an UNMAP in between cannot release the
    /// backing under it (the kernel's COPY holds the pages the same way).
    /// </summary>
    public void AddReference()
    {
        var after = Interlocked.Increment(ref _references);
        if (after <= 1)
            throw new InvalidOperationException("a reference taken on released pages");
    }

    /// <summary>Drops a reference; the last one releases the backing.</summary>
    public void Release()
    {
        var after = Interlocked.Decrement(ref _references);
        if (after == 0)
            Backing?.Dispose();
        else if (after < 0)
            throw new InvalidOperationException("pages released more often than referenced");
    }

    /// <summary>Who pays for the pinned pages; changed only by <see cref="MoveCharge"/>.</summary>
    public PinCharge Account { get; private set; }

    /// <summary>
    /// IOAS_CHANGE_PROCESS for these pages: the pages pinned now are charged to <paramref name="to"/>
    /// first (ENOMEM past its limit leaves everything as it was), then uncharged from the old owner.
    /// With <paramref name="force"/> the limit is not checked (undoing a move).
    /// </summary>
    public Errno MoveCharge(PinCharge to, bool force = false)
    {
        lock (Sync)
        {
            var pinned = _wholeUsers > 0 ? PageCount : _users?.CoveredCount ?? 0;
            if (pinned > 0)
            {
                if (force)
                    to.ForceCharge(pinned);
                else if (to.TryCharge(pinned) is var rc && rc != Errno.Ok)
                    return rc;
                Account.Uncharge(pinned);
            }
            Account = to;
            return Errno.Ok;
        }
    }

    /// <summary>Page-aligned user address of the first page.</summary>
    public ulong Uptr { get; }

    // Set while anything is pinned: the memory's name for these pages (see IUserMemory.ReservePinAddress).
    private ulong _pinBase;

    /// <summary>
    /// Where the engine reaches the first page: through the pin while anything is pinned (domains
    /// and accesses keep the pages they pinned even if the program unmaps them), else the user address.
    /// </summary>
    public ulong Address
    {
        get
        {
            var pinned = Volatile.Read(ref _pinBase);
            return pinned != 0 ? pinned : Uptr;
        }
    }

    /// <summary>Offset of the mapped user address within the first page.</summary>
    public ulong FirstByte { get; }

    public ulong PageCount { get; }

    public bool Writable { get; }

    /// <summary>Pages currently pinned (and charged) on behalf of this object.</summary>
    public ulong PinnedPages
    {
        get
        {
            if (Volatile.Read(ref _lock) is null)
                return 0;
            lock (Sync)
                return _wholeUsers > 0 ? PageCount : _users?.CoveredCount ?? 0;
        }
    }

    // Users of every page (an area mapped whole into domains, the usual case) are only counted:
    // the per-page counter is built for partial users alone, so most objects never need one.
    private ulong _wholeUsers;

    private bool IsWhole(ulong first, ulong last) => first == 0 && last == PageCount - 1;

    /// <summary>
    /// Adds a user of page indexes [first, last]: newly covered pages are charged and pinned.
    /// All or nothing: ENOMEM past the memlock limit, EFAULT for unmapped user memory.
    /// </summary>
    public Errno Pin(ulong first, ulong last)
    {
        lock (Sync)
        {
            if (_wholeUsers == 0)
            {
                var firstPin = _pinBase == 0;
                if (firstPin)
                    Volatile.Write(ref _pinBase, Memory.ReservePinAddress(Uptr, PageCount << CpuPage.Shift));
                var holes = _users?.Uncovered(first, last) ?? [(first, last)];
                var rc = PinHoles(holes);
                if (rc != Errno.Ok)
                {
                    if (firstPin)
                        ReleasePinBase();
                    return rc;
                }
            }
            if (IsWhole(first, last))
                _wholeUsers++;
            else
                (_users ??= new RangeCounter()).Add(first, last);
            return Errno.Ok;
        }
    }

    /// <summary>Charges and pins pages nobody used yet; on failure nothing of it stays.</summary>
    private Errno PinHoles(List<(ulong First, ulong Last)> holes)
    {
        var newPages = 0UL;
        foreach (var (f, l) in holes)
            newPages += l - f + 1;
        var rc = Account.TryCharge(newPages);
        if (rc != Errno.Ok)
            return rc;
        for (var i = 0; i < holes.Count; i++)
        {
            var (f, l) = holes[i];
            rc = FailNth.Check(FaultSite.Pin);
            if (rc == Errno.Ok)
                rc = Memory.Pin(_pinBase + (f << CpuPage.Shift), l - f + 1, Writable);
            if (rc == Errno.Ok)
                continue;
            for (var j = 0; j < i; j++)
                Memory.Unpin(_pinBase + (holes[j].First << CpuPage.Shift), holes[j].Last - holes[j].First + 1);
            Account.Uncharge(newPages);
            return rc;
        }
        return Errno.Ok;
    }

    /// <summary>Drops a user of page indexes [first, last]; pages no longer used are unpinned and uncharged.</summary>
    public void Unpin(ulong first, ulong last)
    {
        lock (Sync)
        {
            if (IsWhole(first, last) && _wholeUsers > 0)
            {
                if (--_wholeUsers == 0)
                    UnpinRuns(_users?.Uncovered(0, PageCount - 1) ?? [(0, PageCount - 1)]);
            }
            else
            {
                if (_users is null)
                    throw new InvalidOperationException("unpinning pages that were never pinned");
                // While a whole user remains every page stays pinned.
                var reachingZero = _wholeUsers == 0 ? RunsReachingZero(first, last) : [];
                _users.Remove(first, last);
                UnpinRuns(reachingZero);
            }
            if (_wholeUsers == 0 && (_users is null || _users.CoveredCount == 0))
                ReleasePinBase();
        }
    }

    /// <summary>
    /// One user of [first, last] becomes two, [first, secondFirst - 1] and [secondFirst, last]
    /// (an area cut in two): the same pages stay pinned, nothing is charged or released.
    /// </summary>
    public void SplitUser(ulong first, ulong last, ulong secondFirst)
    {
        lock (Sync)
        {
            if (IsWhole(first, last) && _wholeUsers > 0)
                _wholeUsers--;
            else if (_users is null)
                throw new InvalidOperationException("splitting a user of pages that were never pinned");
            else
                _users.Remove(first, last);
            _users ??= new RangeCounter();
            _users.Add(first, secondFirst - 1);
            _users.Add(secondFirst, last);
        }
    }

    private void UnpinRuns(List<(ulong First, ulong Last)> runs)
    {
        var released = 0UL;
        foreach (var (f, l) in runs)
        {
            Memory.Unpin(_pinBase + (f << CpuPage.Shift), l - f + 1);
            released += l - f + 1;
        }
        Account.Uncharge(released);
    }

    /// <summary>Nothing is pinned any more: pages the program had unmapped go, and the user address is used again.</summary>
    private void ReleasePinBase()
    {
        if (_pinBase == 0)
            return;
        Memory.ReleasePinAddress(_pinBase, PageCount << CpuPage.Shift);
        Volatile.Write(ref _pinBase, 0);
    }

    /// <summary>The sub-ranges of [first, last] whose only user is the one being removed.</summary>
    private List<(ulong First, ulong Last)> RunsReachingZero(ulong first, ulong last)
    {
        var runs = new List<(ulong, ulong)>();
        ulong? runStart = null;
        // Page counts are stored as runs, so walk run boundaries rather than every page.
        var page = first;
        while (true)
        {
            var count = _users!.Get(page);
            var runEnd = _users.RunEnd(page, last);
            if (count == 1)
                runStart ??= page;
            else if (runStart is { } s)
            {
                runs.Add((s, page - 1));
                runStart = null;
            }
            if (runEnd >= last)
                break;
            page = runEnd + 1;
        }
        if (runStart is { } start)
            runs.Add((start, last));
        return runs;
    }
}
