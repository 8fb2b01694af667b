using System.Numerics;

namespace IommuFd.Core.Dma;

/// <summary>
/// One IOMMU instance's IOTLB: a fully associative cache of page translations, keyed as hardware
/// keys it (domain tag, PASID, page), that drops the least recently used entry when full. Entries
/// cover the page size they were walked at (a 2 MiB leaf is one entry). Nothing else ever updates
/// an entry: a change to the tables is seen only after an invalidation drops it, which is what
/// makes a missed invalidation observable. Thread-safe; its lock is a leaf.
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
    private readonly int[] _newer;
    private readonly int[] _older;
    private readonly int[] _sizeCounts = new int[64];
    private ulong _sizesPresent;
    private int _newest = None;
    private int _oldest = None;
    private int _used;
    private int _freeList = None;

    public Iotlb(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        Capacity = capacity;
        _index = new IotlbIndex(capacity);
        _keys = new IotlbKey[capacity];
        _entries = new IotlbEntry[capacity];
        _newer = new int[capacity];
        _older = new int[capacity];
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

    public long Hits { get; private set; }

    public long Misses { get; private set; }

    public long Evictions { get; private set; }

    /// <summary>The entry translating <paramref name="iova"/> for (tag, pasid), made most recently used; false on a miss.</summary>
    public bool TryLookup(uint tag, uint pasid, ulong iova, out IotlbEntry entry)
    {
        lock (_lock)
        {
            // Probe only the page sizes something is cached at: usually one or two.
            var sizes = _sizesPresent;
            while (sizes != 0)
            {
                var sizeLog2 = BitOperations.TrailingZeroCount(sizes);
                sizes &= sizes - 1;
                var slot = _index.Find(new IotlbKey(tag, pasid, iova >> sizeLog2, sizeLog2), _keys);
                if (slot >= 0)
                {
                    Touch(slot);
                    entry = _entries[slot];
                    Hits++;
                    return true;
                }
            }
            Misses++;
            entry = default;
            return false;
        }
    }

    /// <summary>Caches the translation of the page holding <paramref name="iova"/>; an existing entry for that page is replaced.</summary>
    public void Insert(uint tag, uint pasid, ulong iova, in IotlbEntry entry)
    {
        var key = new IotlbKey(tag, pasid, iova >> entry.SizeLog2, entry.SizeLog2);
        lock (_lock)
        {
            var slot = _index.Find(key, _keys);
            if (slot >= 0)
            {
                _entries[slot] = entry;
                Touch(slot);
                return;
            }
            if (_index.Count == Capacity)
            {
                Evictions++;
                Remove(_oldest);
            }
            slot = TakeSlot();
            _keys[slot] = key;
            _entries[slot] = entry;
            _index.Add(key, slot);
            if (_sizeCounts[entry.SizeLog2]++ == 0)
                _sizesPresent |= 1UL << entry.SizeLog2;
            Link(slot);
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
        for (var slot = _newest; slot != None;)
        {
            var older = _older[slot];
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
            slot = older;
        }
    }

    private static bool Overlaps(ulong pageBase, int sizeLog2, ulong first, ulong last)
    {
        var pageLast = pageBase + ((1UL << sizeLog2) - 1);
        return pageBase <= last && pageLast >= first;
    }

    private int TakeSlot()
    {
        if (_freeList != None)
        {
            var slot = _freeList;
            _freeList = _older[slot];
            return slot;
        }
        return _used++;
    }

    private void Remove(int slot)
    {
        var key = _keys[slot];
        _index.Remove(key, _keys);
        if (--_sizeCounts[key.SizeLog2] == 0)
            _sizesPresent &= ~(1UL << key.SizeLog2);
        Unlink(slot);
        _older[slot] = _freeList;
        _freeList = slot;
    }

    private void Touch(int slot)
    {
        if (slot == _newest)
            return;
        Unlink(slot);
        Link(slot);
    }

    /// <summary>Makes <paramref name="slot"/> the most recently used.</summary>
    private void Link(int slot)
    {
        _newer[slot] = None;
        _older[slot] = _newest;
        if (_newest != None)
            _newer[_newest] = slot;
        _newest = slot;
        if (_oldest == None)
            _oldest = slot;
    }

    private void Unlink(int slot)
    {
        var newer = _newer[slot];
        var older = _older[slot];
        if (newer != None)
            _older[newer] = older;
        else
            _newest = older;
        if (older != None)
            _newer[older] = newer;
        else
            _oldest = newer;
    }
}
