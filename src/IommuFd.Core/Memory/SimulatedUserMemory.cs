namespace IommuFd.Core.Memory;

/// <summary>
/// A sparse, simulated user address space for embedders and tests: regions are mapped with a
/// protection, backing pages are allocated on first touch, and everything else faults (EFAULT).
/// </summary>
public sealed class SimulatedUserMemory : IUserMemory
{
    private readonly record struct Region(ulong Start, ulong Last, bool Writable);

    private readonly Lock _lock = new();
    private readonly SortedList<ulong, Region> _regions = [];
    private readonly Dictionary<ulong, byte[]> _pages = [];
    private readonly PinLedger _pins = new();

    /// <summary>Makes [address, address+length) accessible. Both must be page aligned.</summary>
    public void Map(ulong address, ulong length, bool writable = true)
    {
        if (CpuPage.Offset(address) != 0 || CpuPage.Offset(length) != 0 || length == 0)
            throw new ArgumentException("simulated mappings are whole pages");
        if (!IovaRange.TryFromLength(address, length, out var range))
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
            for (var page = region.Start; page <= region.Last && page >= region.Start; page += CpuPage.Size)
                _pages.Remove(page);
        }
    }

    public Errno Read(ulong address, Span<byte> destination)
    {
        lock (_lock)
        {
            if (!Accessible(address, (ulong)destination.Length, write: false))
                return Errno.EFAULT;
            var done = 0;
            while (done < destination.Length)
            {
                var at = address + (ulong)done;
                var offset = (int)CpuPage.Offset(at);
                var chunk = Math.Min(destination.Length - done, (int)CpuPage.Size - offset);
                if (_pages.TryGetValue(CpuPage.AlignDown(at), out var page))
                    page.AsSpan(offset, chunk).CopyTo(destination.Slice(done, chunk));
                else
                    destination.Slice(done, chunk).Clear();
                done += chunk;
            }
            return Errno.Ok;
        }
    }

    public Errno Write(ulong address, ReadOnlySpan<byte> source)
    {
        lock (_lock)
        {
            if (!Accessible(address, (ulong)source.Length, write: true))
                return Errno.EFAULT;
            var done = 0;
            while (done < source.Length)
            {
                var at = address + (ulong)done;
                var offset = (int)CpuPage.Offset(at);
                var chunk = Math.Min(source.Length - done, (int)CpuPage.Size - offset);
                var pageAddress = CpuPage.AlignDown(at);
                if (!_pages.TryGetValue(pageAddress, out var page))
                    _pages[pageAddress] = page = new byte[CpuPage.Size];
                source.Slice(done, chunk).CopyTo(page.AsSpan(offset, chunk));
                done += chunk;
            }
            return Errno.Ok;
        }
    }

    public Errno Pin(ulong pageAddress, ulong pageCount, bool writable)
    {
        if (pageCount == 0)
            return Errno.Ok;
        if (pageCount > (ulong.MaxValue >> CpuPage.Shift))
            return Errno.EFAULT;
        lock (_lock)
        {
            if (!Accessible(pageAddress, pageCount << CpuPage.Shift, writable))
                return Errno.EFAULT;
        }
        _pins.Pin(pageAddress, pageCount);
        return Errno.Ok;
    }

    public void Unpin(ulong pageAddress, ulong pageCount) => _pins.Unpin(pageAddress, pageCount);

    public ulong PinCount(ulong address) => _pins.PinCount(address);

    // Simulated regions never alias one another.
    public bool SamePage(ulong a, ulong b) => CpuPage.AlignDown(a) == CpuPage.AlignDown(b);

    /// <summary>Pages pinned by anyone, each counted once.</summary>
    public ulong PinnedPages => _pins.PinnedPages;

    /// <summary>True when every byte of the range lies in mapped regions (writable ones when asked).</summary>
    private bool Accessible(ulong address, ulong length, bool write)
    {
        if (length == 0)
            return true;
        if (!IovaRange.TryFromLength(address, length, out var want))
            return false;
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
