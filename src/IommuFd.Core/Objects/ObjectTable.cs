using System.Diagnostics;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Core.Objects;

/// <summary>
/// A context's objects by ID: an array indexed by ID (O(1) look-up), the lowest free ID reused
/// first as the kernel's allocator does. Creation is two-phase: <see cref="Reserve{T}"/> hands back
/// a <see cref="PendingObject{T}"/> whose ID look-ups cannot see until it is published, and whose
/// disposal aborts it. Look-ups are <see cref="Hold{T}"/> scopes.
/// </summary>
public sealed class ObjectTable
{
    /// <summary>IDs are positive 31-bit numbers, as the kernel hands out.</summary>
    private const uint MaxId = int.MaxValue;

    private readonly Lock _lock = new();
    private IommufdObject?[] _slots = new IommufdObject?[16];
    private bool[] _published = new bool[16];
    private readonly PriorityQueue<uint, uint> _freeIds = new();
    private uint _nextId = 1;
    private int _count;

    /// <summary>Objects reserved or published.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
                return _count;
        }
    }

    /// <summary>
    /// Gives <paramref name="obj"/> an ID that stays invisible until the pending object is published;
    /// disposing it unpublished aborts. When IDs run out (ENOSPC, in <see cref="PendingObject{T}.Status"/>)
    /// the object's abort step runs at once, so what its constructor acquired is released too.
    /// </summary>
    public PendingObject<T> Reserve<T>(T obj) where T : IommufdObject
    {
        // Allocation is a fault site; the ENOSPC path below is how every failure unwinds.
        var rc = FailNth.Check(FaultSite.ObjectAlloc);
        if (rc == Errno.Ok)
            rc = ReserveId(obj);
        if (rc == Errno.Ok)
            return new PendingObject<T>(this, obj);
        obj.OnAbort();
        return new PendingObject<T>(rc);
    }

    private Errno ReserveId(IommufdObject obj)
    {
        lock (_lock)
        {
            uint id;
            if (_freeIds.Count > 0)
                id = _freeIds.Dequeue();
            else if (_nextId <= MaxId)
                id = _nextId++;
            else
                return Errno.ENOSPC;
            if (id >= _slots.Length)
            {
                var size = (int)Math.Min((long)_slots.Length * 2, (long)MaxId + 1);
                while (size <= id)
                    size *= 2;
                Array.Resize(ref _slots, size);
                Array.Resize(ref _published, size);
            }
            _slots[id] = obj;
            _published[id] = false;
            obj.Id = new ObjectId(id);
            _count++;
            return Errno.Ok;
        }
    }

    /// <summary>Makes a reserved object visible to look-ups (through <see cref="PendingObject{T}.Publish"/>).</summary>
    internal void Publish(IommufdObject obj)
    {
        lock (_lock)
        {
            Debug.Assert(ReferenceEquals(_slots[obj.Id.Value], obj));
            _published[obj.Id.Value] = true;
        }
    }

    /// <summary>Forgets a reserved, unpublished object, frees its ID, then runs its abort step.</summary>
    internal void Abort(IommufdObject obj)
    {
        lock (_lock)
        {
            Debug.Assert(ReferenceEquals(_slots[obj.Id.Value], obj) && !_published[obj.Id.Value]);
            FreeSlot(obj.Id.Value);
        }
        obj.OnAbort();
    }

    /// <summary>
    /// Looks up a published object of type <typeparamref name="T"/> and holds it until the hold is
    /// disposed. An unknown ID or an object of another kind is ENOENT.
    /// </summary>
    public ObjectHold<T> Hold<T>(ObjectId id) where T : IommufdObject =>
        TryHold<T>(id, out var obj) == Errno.Ok ? new ObjectHold<T>(this, obj) : new ObjectHold<T>(Errno.ENOENT);

    private Errno TryHold<T>(ObjectId id, out T obj) where T : IommufdObject
    {
        // Misses (unknown IDs) are answered without the lock: the arrays are only replaced, never
        // shrunk, so a racy read at worst misses an object published at the same instant.
        var published = Volatile.Read(ref _published);
        var slots = Volatile.Read(ref _slots);
        if (id.Value >= (uint)published.Length || id.Value >= (uint)slots.Length || !published[id.Value] || slots[id.Value] is not T)
        {
            obj = null!;
            return Errno.ENOENT;
        }
        lock (_lock)
        {
            if (id.Value < _slots.Length && _published[id.Value] && _slots[id.Value] is T found)
            {
                found.Holds++;
                obj = found;
                return Errno.Ok;
            }
        }
        obj = null!;
        return Errno.ENOENT;
    }

    /// <summary>Drops a hold (through <see cref="ObjectHold{T}.Dispose"/>); the last hold of a destroyed object tears it down.</summary>
    internal void Release(IommufdObject obj)
    {
        bool destroy;
        lock (_lock)
        {
            Debug.Assert(obj.Holds > 0);
            destroy = --obj.Holds == 0 && obj.Removed;
        }
        if (destroy)
            obj.OnDestroy();
    }

    /// <summary>Records that another object depends on <paramref name="obj"/> (DESTROY is EBUSY meanwhile).</summary>
    public void AddUser(IommufdObject obj)
    {
        lock (_lock)
            obj.Users++;
    }

    public int UsersOf(IommufdObject obj)
    {
        lock (_lock)
            return obj.Users;
    }

    public void RemoveUser(IommufdObject obj)
    {
        lock (_lock)
        {
            Debug.Assert(obj.Users > 0);
            obj.Users--;
        }
    }

    /// <summary>
    /// Removes an object: ENOENT when unknown, EBUSY while another object uses it. Teardown runs now,
    /// or when the last in-flight call drops its hold.
    /// </summary>
    public Errno Destroy(ObjectId id)
    {
        var published = Volatile.Read(ref _published);
        if (id.Value >= (uint)published.Length || !published[id.Value])
            return Errno.ENOENT;
        IommufdObject obj;
        lock (_lock)
        {
            if (id.Value >= _slots.Length || !_published[id.Value] || _slots[id.Value] is not { } found)
                return Errno.ENOENT;
            if (found.Users > 0)
                return Errno.EBUSY;
            obj = found;
            obj.Removed = true;
            FreeSlot(id.Value);
            if (obj.Holds > 0)
                return Errno.Ok;
        }
        obj.OnDestroy();
        return Errno.Ok;
    }

    /// <summary>
    /// Takes <paramref name="obj"/> out of the table while keeping its ID taken until the context
    /// closes: look-ups and DESTROY miss it (ENOENT) and no new object gets the ID. Its destroy step
    /// runs now, or when the last hold ends. The kernel does this to a vDEVICE whose device goes
    /// away, so user space holding the vDEVICE ID cannot reach an unrelated object through it.
    /// </summary>
    public void Tombstone(IommufdObject obj)
    {
        lock (_lock)
        {
            var id = obj.Id.Value;
            if (id >= _slots.Length || !ReferenceEquals(_slots[id], obj) || !_published[id])
                return;
            obj.Removed = true;
            _slots[id] = null;
            _published[id] = false;
            _count--;
            if (obj.Holds > 0)
                return;
        }
        obj.OnDestroy();
    }

    /// <summary>
    /// Destroys everything, as closing the file does: objects nobody uses go first, which releases
    /// their users' references, until the table is empty.
    /// </summary>
    public void DestroyAll()
    {
        while (true)
        {
            var progress = false;
            foreach (var id in PublishedIds())
                progress |= Destroy(id) == Errno.Ok;
            if (!progress)
                return;
        }
    }

    /// <summary>A snapshot of the published objects, in ID order.</summary>
    public IReadOnlyList<IommufdObject> Snapshot()
    {
        lock (_lock)
        {
            var list = new List<IommufdObject>(_count);
            for (var i = 1; i < _slots.Length; i++)
                if (_published[i] && _slots[i] is { } obj)
                    list.Add(obj);
            return list;
        }
    }

    private List<ObjectId> PublishedIds()
    {
        var ids = new List<ObjectId>();
        foreach (var obj in Snapshot())
            ids.Add(obj.Id);
        return ids;
    }

    private void FreeSlot(uint id)
    {
        _slots[id] = null;
        _published[id] = false;
        _freeIds.Enqueue(id, id);
        _count--;
    }
}
