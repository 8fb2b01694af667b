namespace IommuFd.Core.Memory;

/// <summary>
/// A sparse, simulated user address space for embedders and tests: regions are mapped with a
/// protection, backing pages are allocated on first touch, and everything else faults (EFAULT).
/// With <see cref="PinsOutliveUnmap"/>, pinned pages live as long as the pin, as in the kernel:
/// unmapping a region moves its pinned pages out of the program's reach (docs/pinned-memory-lifetime.md).
/// </summary>
public sealed class SimulatedUserMemory : IUserMemory
{
    private readonly record struct Region(ulong Start, ulong Last, bool Writable);

    /// <summary>Pin addresses are handed out from here up; the program's regions stay below.</summary>
    public const ulong PinSpaceStart = 0x7e00_0000_0000;

    private readonly Lock _lock = new();
    private readonly SortedList<ulong, Region> _regions = [];
    private readonly Dictionary<ulong, byte[]> _pages = [];
    private readonly PinLedger _pins = new();
    private readonly List<PinRun> _pinRuns = [];
    private ulong _nextPinAddress = PinSpaceStart;

    /// <summary>
    /// A pinned run's own name: pages still at the program's address are reached there; pages
    /// the program unmapped while pinned were moved to the run's own address, with their contents.
    /// </summary>
    private sealed class PinRun(ulong pinAddress, ulong userAddress, ulong pageCount)
    {
        public ulong PinAddress { get; } = pinAddress;
        public ulong UserAddress { get; } = userAddress;
        public ulong PageCount { get; } = pageCount;
        public Dictionary<ulong, bool> Moved { get; } = []; // page index -> writable

        public bool Holds(ulong address) => address >= PinAddress && address - PinAddress < PageCount << CpuPage.Shift;
    }

    /// <summary>Pinned pages survive <see cref="Unmap"/>, reachable only through their pin address (the kernel's behaviour).</summary>
    public bool PinsOutliveUnmap { get; init; }

    /// <summary>Makes [address, address+length) accessible. Both must be page aligned.</summary>
    public void Map(ulong address, ulong length, bool writable = true)
    {
        if (CpuPage.Offset(address) != 0 || CpuPage.Offset(length) != 0 || length == 0)
            throw new ArgumentException("simulated mappings are whole pages");
        if (!IovaRange.TryFromLength(address, length, out var range) || (PinsOutliveUnmap && range.Last >= PinSpaceStart))
            throw new ArgumentOutOfRangeException(nameof(length));
        lock (_lock)
        {
            foreach (var r in _regions.Values)
                if (r.Start <= range.Last && r.Last >= range.Start)
                    throw new InvalidOperationException($"0x{address:x} overlaps an existing region");
            _regions.Add(address, new Region(range.Start, range.Last, writable));
        }
    }

    /// <summary>Removes a region mapped by <see cref="Map"/>; its contents are lost.</summary>
    public void Unmap(ulong address)
    {
        lock (_lock)
        {
            if (!_regions.Remove(address, out var region))
                throw new InvalidOperationException($"no region at 0x{address:x}");
            MovePinnedPagesLocked(region);
            for (var page = region.Start; page <= region.Last && page >= region.Start; page += CpuPage.Size)
                _pages.Remove(page);
        }
    }

    /// <inheritdoc/>
    public Errno Read(ulong address, Span<byte> destination)
    {
        lock (_lock)
        {
            if (!AccessibleLocked(address, (ulong)destination.Length, write: false))
                return Errno.EFAULT;
            var done = 0;
            while (done < destination.Length)
            {
                var at = address + (ulong)done;
                var offset = (int)CpuPage.Offset(at);
                var chunk = Math.Min(destination.Length - done, (int)CpuPage.Size - offset);
                if (_pages.TryGetValue(CpuPage.AlignDown(PageKeyLocked(at)), out var page))
                    page.AsSpan(offset, chunk).CopyTo(destination.Slice(done, chunk));
                else
                    destination.Slice(done, chunk).Clear();
                done += chunk;
            }
            return Errno.Ok;
        }
    }

    /// <inheritdoc/>
    public Errno Write(ulong address, ReadOnlySpan<byte> source)
    {
        lock (_lock)
        {
            if (!AccessibleLocked(address, (ulong)source.Length, write: true))
                return Errno.EFAULT;
            var done = 0;
            while (done < source.Length)
            {
                var at = address + (ulong)done;
                var offset = (int)CpuPage.Offset(at);
                var chunk = Math.Min(source.Length - done, (int)CpuPage.Size - offset);
                var key = CpuPage.AlignDown(PageKeyLocked(at));
                if (!_pages.TryGetValue(key, out var page))
                    _pages[key] = page = new byte[CpuPage.Size];
                source.Slice(done, chunk).CopyTo(page.AsSpan(offset, chunk));
                done += chunk;
            }
            return Errno.Ok;
        }
    }

    /// <inheritdoc/>
    public Errno Pin(ulong pageAddress, ulong pageCount, bool writable)
    {
        if (pageCount == 0)
            return Errno.Ok;
        if (pageCount > (ulong.MaxValue >> CpuPage.Shift))
            return Errno.EFAULT;
        lock (_lock)
        {
            if (!AccessibleLocked(pageAddress, pageCount << CpuPage.Shift, writable))
                return Errno.EFAULT;
        }
        _pins.Pin(pageAddress, pageCount);
        return Errno.Ok;
    }

    /// <inheritdoc/>
    public void Unpin(ulong pageAddress, ulong pageCount) => _pins.Unpin(pageAddress, pageCount);

    /// <summary>Pins of the page: through this address, and through pin addresses whose page is still here.</summary>
    public ulong PinCount(ulong address)
    {
        lock (_lock)
        {
            var total = _pins.PinCount(address);
            if (FindRunLocked(address) is not null)
                return total;
            var page = CpuPage.AlignDown(address);
            foreach (var run in _pinRuns)
            {
                if (page < run.UserAddress || page - run.UserAddress >= run.PageCount << CpuPage.Shift)
                    continue;
                var index = (page - run.UserAddress) >> CpuPage.Shift;
                if (!run.Moved.ContainsKey(index))
                    total += _pins.PinCount(run.PinAddress + (index << CpuPage.Shift));
            }
            return total;
        }
    }

    // Regions never alias one another; a pin address names the program's page until that page is moved.
    /// <inheritdoc/>
    public bool SamePage(ulong a, ulong b)
    {
        lock (_lock)
            return CpuPage.AlignDown(PageKeyLocked(a)) == CpuPage.AlignDown(PageKeyLocked(b));
    }

    /// <inheritdoc/>
    public ulong ReservePinAddress(ulong pageAddress, ulong length)
    {
        if (!PinsOutliveUnmap)
            return pageAddress;
        lock (_lock)
        {
            // Same offset within 1 GiB as the user address, so domains can still use large pages;
            // a guard page between runs, so a run's end never reads into the next.
            const ulong keep = 1UL << 30;
            var pinAddress = ((_nextPinAddress + keep - 1) & ~(keep - 1)) + (pageAddress & (keep - 1));
            _nextPinAddress = pinAddress + length + CpuPage.Size;
            _pinRuns.Add(new PinRun(pinAddress, pageAddress, length >> CpuPage.Shift));
            return pinAddress;
        }
    }

    /// <inheritdoc/>
    public void ReleasePinAddress(ulong pinAddress, ulong length)
    {
        if (!PinsOutliveUnmap)
            return;
        lock (_lock)
        {
            var run = FindRunLocked(pinAddress) ?? throw new InvalidOperationException($"no pin address 0x{pinAddress:x}");
            _pinRuns.Remove(run);
            // Moved pages belonged to the pin alone: they go with it, as the kernel frees the last reference.
            foreach (var index in run.Moved.Keys)
                _pages.Remove(run.PinAddress + (index << CpuPage.Shift));
        }
    }

    private PinRun? FindRunLocked(ulong address)
    {
        if (address < PinSpaceStart)
            return null;
        foreach (var run in _pinRuns)
            if (run.Holds(address))
                return run;
        return null;
    }

    /// <summary>The key of the page that holds <paramref name="address"/>: a pin address resolves to the program's page until it is moved.</summary>
    private ulong PageKeyLocked(ulong address)
    {
        if (FindRunLocked(address) is not { } run)
            return address;
        var offset = address - run.PinAddress;
        return run.Moved.ContainsKey(offset >> CpuPage.Shift) ? address : run.UserAddress + offset;
    }

    /// <summary>The program unmaps <paramref name="region"/>: its pinned pages move to their pin addresses (contents and all).</summary>
    private void MovePinnedPagesLocked(Region region)
    {
        foreach (var run in _pinRuns)
        {
            for (var index = 0UL; index < run.PageCount; index++)
            {
                var user = run.UserAddress + (index << CpuPage.Shift);
                var pin = run.PinAddress + (index << CpuPage.Shift);
                if (user < region.Start || user > region.Last || run.Moved.ContainsKey(index) || _pins.PinCount(pin) == 0)
                    continue;
                run.Moved[index] = region.Writable;
                if (_pages.Remove(user, out var contents))
                    _pages[pin] = contents;
            }
        }
    }

    /// <summary>Pages pinned by anyone, each counted once.</summary>
    public ulong PinnedPages => _pins.PinnedPages;

    /// <summary>
    /// True when every byte of the range is reachable (writable when asked): moved pinned pages
    /// through their pin address, everything else in mapped regions.
    /// </summary>
    private bool AccessibleLocked(ulong address, ulong length, bool write)
    {
        if (length == 0)
            return true;
        if (!IovaRange.TryFromLength(address, length, out var want))
            return false;
        if (FindRunLocked(address) is null)
            return RegionsCover(want, write);
        // Pin addresses resolve page by page.
        for (var page = CpuPage.AlignDown(want.Start); ; page += CpuPage.Size)
        {
            if (FindRunLocked(page) is not { } run)
                return false;
            var index = (page - run.PinAddress) >> CpuPage.Shift;
            if (run.Moved.TryGetValue(index, out var writable))
            {
                if (write && !writable)
                    return false;
            }
            else if (!RegionsCover(new IovaRange(run.UserAddress + (index << CpuPage.Shift), run.UserAddress + (index << CpuPage.Shift) + CpuPage.Mask), write))
            {
                return false;
            }
            if (page >= CpuPage.AlignDown(want.Last))
                return true;
        }
    }

    /// <summary>True when every byte of <paramref name="want"/> lies in mapped regions (writable ones when asked).</summary>
    private bool RegionsCover(IovaRange want, bool write)
    {
        var cursor = want.Start;
        // Regions are sorted and disjoint: walk from the last one starting at or below the cursor.
        var keys = _regions.Keys;
        var i = UpperBound(keys, cursor) - 1;
        for (; i >= 0 && i < _regions.Count; i++)
        {
            var r = _regions.GetValueAtIndex(i);
            if (r.Start > cursor || r.Last < cursor || (write && !r.Writable))
                return false;
            if (r.Last >= want.Last)
                return true;
            cursor = r.Last + 1;
        }
        return false;
    }

    private static int UpperBound(IList<ulong> keys, ulong value)
    {
        int lo = 0, hi = keys.Count;
        while (lo < hi)
        {
            var mid = (lo + hi) >>> 1;
            if (keys[mid] <= value) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }
}
