using IommuFd.Core;

namespace IommuFd.Native;

/// <summary>
/// Engine handles → contexts. Look-ups are lock-free; open and close take a lock. A handle is
/// never reused (a serial number is part of it), so a stale handle is EBADF, not someone else's
/// context. Close may race ioctls on the same handle: the context is disposed by whichever of
/// the closer and the last in-flight call finishes last.
/// </summary>
/// <remarks>
/// Handle layout (always positive): bits 0-23 slot, 24-47 serial, 48-62 the fork epoch of the
/// table that issued it, so a handle inherited across fork() can be told from a garbage one.
/// </remarks>
internal sealed class ContextTable(int epoch)
{
    public const int MaxEpoch = (1 << 15) - 1;
    private const int SlotBits = 24;
    private const long SlotMask = (1L << SlotBits) - 1;
    private const long SerialMask = (1L << 24) - 1;

    /// <summary>Set in <see cref="Entry.State"/> once closed; the low bits count calls in flight.</summary>
    private const int ClosedBit = 1 << 30;

    public sealed class Entry(long handle, IommufdContext context)
    {
        public readonly long Handle = handle;
        public readonly IommufdContext Context = context;
        internal int State;
        internal int Disposed;
    }

    private readonly Lock _lock = new();
    private readonly Stack<int> _freeSlots = new();
    private Entry?[] _slots = new Entry?[16];
    private int _slotsUsed;
    private long _serial;
    private int _count;

    public int Epoch { get; } = epoch;

    public int Count => Volatile.Read(ref _count);

    public static int EpochOf(long handle) => (int)(handle >> 48);

    /// <summary>Registers a context; its handle, or 0 when every slot is taken.</summary>
    public long Add(IommufdContext context)
    {
        lock (_lock)
        {
            int slot;
            if (_freeSlots.Count > 0)
            {
                slot = _freeSlots.Pop();
            }
            else
            {
                if (_slotsUsed > SlotMask)
                    return 0;
                if (_slotsUsed == _slots.Length)
                {
                    var grown = new Entry?[_slots.Length * 2];
                    Array.Copy(_slots, grown, _slots.Length);
                    Volatile.Write(ref _slots, grown);
                }
                slot = _slotsUsed++;
            }
            _serial = (_serial & SerialMask) == SerialMask ? 1 : _serial + 1;
            var handle = ((long)Epoch << 48) | (_serial << SlotBits) | (long)slot;
            Volatile.Write(ref _slots[slot], new Entry(handle, context));
            _count++;
            return handle;
        }
    }

    /// <summary>Holds the context of an open handle for one call; false for an unknown or closed one.</summary>
    public bool TryEnter(long handle, out Entry entry)
    {
        entry = null!;
        var found = Find(handle);
        if (found is null)
            return false;
        if ((Interlocked.Increment(ref found.State) & ClosedBit) != 0)
        {
            Leave(found); // closed meanwhile; we may still be the last one out
            return false;
        }
        entry = found;
        return true;
    }

    public void Leave(Entry entry)
    {
        if (Interlocked.Decrement(ref entry.State) == ClosedBit)
            DisposeOnce(entry);
    }

    /// <summary>Forgets a handle; the context is disposed now or when its last call returns. False if unknown.</summary>
    public bool Remove(long handle)
    {
        Entry? entry;
        lock (_lock)
        {
            entry = Find(handle);
            if (entry is null)
                return false;
            var slot = (int)(handle & SlotMask);
            Volatile.Write(ref _slots[slot], null);
            _freeSlots.Push(slot);
            _count--;
        }
        // Only the remover gets here, once per entry.
        if (Interlocked.Add(ref entry.State, ClosedBit) == ClosedBit)
            DisposeOnce(entry);
        return true;
    }

    private Entry? Find(long handle)
    {
        if (handle <= 0)
            return null;
        var slots = Volatile.Read(ref _slots);
        var slot = handle & SlotMask;
        if (slot >= slots.Length)
            return null;
        var entry = Volatile.Read(ref slots[slot]);
        return entry is not null && entry.Handle == handle ? entry : null;
    }

    private static void DisposeOnce(Entry entry)
    {
        if (Interlocked.Exchange(ref entry.Disposed, 1) == 0)
            entry.Context.Dispose();
    }
}
