using System.Numerics;
using System.Runtime.Intrinsics.X86;

namespace IommuFd.Core.Dma;

/// <summary>
/// One IOMMU instance's IOTLB: a fully associative cache of page translations, keyed as hardware
/// keys it (domain tag, PASID, page), that drops the least recently used entry when full. Entries
/// cover the page size they were walked at (a 2 MiB leaf is one entry). Nothing else ever updates
/// an entry: a change to the tables is seen only after an invalidation drops it, which is what
/// makes a missed invalidation observable. Thread-safe: lookups take no lock (they validate what
/// they read against a version writers bump); inserts and invalidations take a leaf lock. The
/// least recently used entry is found by scanning use stamps, so misses that evict cost O(capacity).
/// </summary>
public sealed class Iotlb
{
    /// <summary>The PASID of requests without one (RID_PASID): a value no real PASID (at most 20 bits) takes.</summary>
    public const uint NoPasid = uint.MaxValue;

    private const int None = -1;

    private readonly Lock _lock = new();
    private readonly IotlbIndex _index;
    private readonly IotlbKey[] _keys;
    private readonly IotlbEntry[] _entries;
    private readonly bool[] _live;
    private readonly long[] _lastUse;
    private readonly int[] _nextFree;
    private readonly int[] _sizeCounts = new int[64];
    private ulong _sizesPresent;
    private int _used;
    private int _freeList = None;
    private long _clock;

    // Odd while a writer (holding the lock) changes the index or the entries: a lookup reads
    // without the lock and keeps what it read only if the version was even and unchanged, so the
    // common case, a hit, takes no lock and no atomic operation.
    private int _version;

    public Iotlb(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _index = new IotlbIndex(capacity);
        _keys = new IotlbKey[capacity];
        _entries = new IotlbEntry[capacity];
        _live = new bool[capacity];
        _lastUse = new long[capacity];
        _nextFree = new int[capacity];
    }

    public int Capacity { get; }

    public int Count
    {
        get
        {
            lock (_lock)
                return _index.Count;
        }
    }

    // Counted without atomics: exact for one thread, approximate when several race.
    public long Hits { get; private set; }

    public long Misses { get; private set; }

    public long Evictions { get; private set; }

    /// <summary>The entry translating <paramref name="iova"/> for (tag, pasid), made most recently used; false on a miss.</summary>
    public bool TryLookup(uint tag, uint pasid, ulong iova, out IotlbEntry entry)
    {
        var version = Volatile.Read(ref _version);
        if ((version & 1) == 0)
        {
            var slot = Probe(tag, pasid, iova);
            if (slot >= 0)
                entry = _entries[slot];
            else
                entry = default;
            // The reads above must complete before the re-check: x86 keeps loads in order (and the JIT
            // does not move loads across a volatile read); weaker CPUs need a fence.
            if (!X86Base.IsSupported)
                Interlocked.MemoryBarrier();
            if (Volatile.Read(ref _version) == version)
                return Record(slot);
        }
        lock (_lock)
        {
            var slot = Probe(tag, pasid, iova);
            entry = slot >= 0 ? _entries[slot] : default;
            return Record(slot);
        }
    }

    /// <summary>
    /// Records a hit (stamping the slot as most recently used) or a miss. Stamps are written
    /// without the lock: a racing stamp can only misorder eviction, never free or keep a slot.
    /// </summary>
    private bool Record(int slot)
    {
        if (slot < 0)
        {
            Misses++;
            return false;
        }
        _lastUse[slot] = ++_clock;
        Hits++;
        return true;
    }

    /// <summary>The slot caching the page of <paramref name="iova"/>, probing only the page sizes something is cached at.</summary>
    private int Probe(uint tag, uint pasid, ulong iova)
    {
        var sizes = _sizesPresent;
        while (sizes != 0)
        {
            var sizeLog2 = BitOperations.TrailingZeroCount(sizes);
            sizes &= sizes - 1;
            var slot = _index.Find(new IotlbKey(tag, pasid, iova >> sizeLog2, sizeLog2), _keys);
            if (slot >= 0)
                return slot;
        }
        return None;
    }

    /// <summary>Caches the translation of the page holding <paramref name="iova"/>; an existing entry for that page is replaced.</summary>
    public void Insert(uint tag, uint pasid, ulong iova, in IotlbEntry entry)
    {
        var key = new IotlbKey(tag, pasid, iova >> entry.SizeLog2, entry.SizeLog2);
        lock (_lock)
        {
            BeginWrite();
            var slot = _index.Find(key, _keys);
            if (slot < 0)
            {
                if (_index.Count == Capacity)
                {
                    Evictions++;
                    Remove(LeastRecentlyUsed());
                }
                slot = TakeSlot();
                _live[slot] = true;
                _keys[slot] = key;
                _index.Add(key, slot);
                if (_sizeCounts[entry.SizeLog2]++ == 0)
                    _sizesPresent |= 1UL << entry.SizeLog2;
            }
            _entries[slot] = entry;
            _lastUse[slot] = ++_clock;
            EndWrite();
        }
    }

    /// <summary>
    /// <see cref="Insert"/>, unless an invalidation of <paramref name="first"/> (or <paramref name="second"/>)
    /// happened since the generations the walk started from: then the walk may have seen tables that
    /// no longer exist, and it is not cached. Returns whether it was cached.
    /// </summary>
    internal bool InsertIfCurrent(uint tag, uint pasid, ulong iova, in IotlbEntry entry, DmaCacheTag first, long firstGeneration, DmaCacheTag? second = null, long secondGeneration = 0)
    {
        lock (_lock)
        {
            if (first.Generation != firstGeneration || (second is not null && second.Generation != secondGeneration))
                return false;
            Insert(tag, pasid, iova, entry);
            return true;
        }
    }

    /// <summary>Drops everything (a global invalidation).</summary>
    public void InvalidateAll()
    {
        lock (_lock)
            RemoveWhere(Scope.All, 0, 0, 0, 0);
    }

    /// <summary>Drops every entry looked up through <paramref name="tag"/> or built on it as stage 2.</summary>
    internal void InvalidateTag(uint tag)
    {
        lock (_lock)
            RemoveWhere(Scope.Tag, tag, 0, 0, 0);
    }

    /// <summary>Drops entries whose stage-2 input (IOVA of a paging domain) overlaps [first, last] in <paramref name="tag"/>.</summary>
    internal void InvalidateStageTwo(uint tag, ulong first, ulong last)
    {
        lock (_lock)
            RemoveWhere(Scope.StageTwo, tag, 0, first, last);
    }

    /// <summary>Drops entries of stage-1 <paramref name="tag"/> and <paramref name="pasid"/> whose IOVA page overlaps [first, last].</summary>
    internal void InvalidateStageOne(uint tag, uint pasid, ulong first, ulong last)
    {
        lock (_lock)
            RemoveWhere(Scope.StageOne, tag, pasid, first, last);
    }

    private enum Scope
    {
        All,
        Tag,
        StageTwo,
        StageOne,
    }

    /// <summary>One pass over the entries (the cache is small; invalidations are rarer than lookups).</summary>
    private void RemoveWhere(Scope scope, uint tag, uint pasid, ulong first, ulong last)
    {
        BeginWrite();
        for (var slot = 0; slot < _used; slot++)
        {
            if (!_live[slot])
                continue;
            var key = _keys[slot];
            var entry = _entries[slot];
            var hit = scope switch
            {
                Scope.All => true,
                Scope.Tag => key.Tag == tag || entry.StageTwoTag == tag,
                Scope.StageTwo => entry.StageTwoTag == tag && Overlaps(entry.StageTwoInputBase, entry.SizeLog2, first, last),
                _ => key.Tag == tag && key.Pasid == pasid && Overlaps(key.PageNumber << key.SizeLog2, key.SizeLog2, first, last),
            };
            if (hit)
                Remove(slot);
        }
        EndWrite();
    }

    private static bool Overlaps(ulong pageBase, int sizeLog2, ulong first, ulong last)
    {
        var pageLast = pageBase + ((1UL << sizeLog2) - 1);
        return pageBase <= last && pageLast >= first;
    }

    // A full fence on the way in (the version must be odd before any change is visible), a release on the way out.
    private void BeginWrite() => Interlocked.Increment(ref _version);

    private void EndWrite() => Volatile.Write(ref _version, _version + 1);

    /// <summary>The live slot used longest ago (stamps grow with every use).</summary>
    private int LeastRecentlyUsed()
    {
        var oldest = None;
        var stamp = long.MaxValue;
        for (var slot = 0; slot < _used; slot++)
        {
            var used = _lastUse[slot];
            if (_live[slot] && used < stamp)
            {
                stamp = used;
                oldest = slot;
            }
        }
        return oldest;
    }

    private int TakeSlot()
    {
        if (_freeList != None)
        {
            var slot = _freeList;
            _freeList = _nextFree[slot];
            return slot;
        }
        return _used++;
    }

    /// <summary>Frees a live slot; the caller is inside BeginWrite/EndWrite.</summary>
    private void Remove(int slot)
    {
        var key = _keys[slot];
        _index.Remove(key, _keys);
        if (--_sizeCounts[key.SizeLog2] == 0)
            _sizesPresent &= ~(1UL << key.SizeLog2);
        _live[slot] = false;
        _nextFree[slot] = _freeList;
        _freeList = slot;
    }
}
