using IommuFd.Core;

namespace IommuFd.Native;

/// <summary>
/// Engine handles → contexts. Look-ups are lock-free; open and close take a lock. A handle is
/// never reused (a serial number is part of it), so a stale handle is EBADF, not someone else's
/// context. Close may race ioctls on the same handle: the context is disposed by whoever sees
/// last, through the <see cref="CallGate"/>, that no thread is inside it any more.
/// </summary>
/// <remarks>
/// Handle layout (always positive): bits 0-23 slot, 24-47 serial, 48-62 the fork epoch of the
/// table that issued it, so a handle inherited across fork() can be told from a garbage one
/// (object fd cookies carry the epoch in the same bits: <see cref="EpochOf"/> reads both).
/// </remarks>
internal sealed class ContextTable(int epoch, CallGate gate)
{
    public const int MaxEpoch = (1 << 15) - 1;
    private const int SlotBits = 24;
    private const long SlotMask = (1L << SlotBits) - 1;
    private const long SerialMask = (1L << 24) - 1;

    public sealed class Entry(long handle, IommufdContext context)
    {
        public readonly long Handle = handle;
        public readonly IommufdContext Context = context;
        internal volatile int Closed;
        internal int Disposed;
    }

    private readonly Lock _lock = new();
    private readonly Stack<int> _freeSlots = new();
    private Entry?[] _slots = new Entry?[16];
    private int _slotsUsed;
    private long _serial;

    public int Epoch { get; } = epoch;

    private int _live;

    /// <summary>Contexts open now (read without the lock: fork preparation only needs a hint).</summary>
    public int LiveCount => Volatile.Read(ref _live);

    /// <summary>Where handles and object fd cookies keep the epoch that issued them.</summary>
    public const int EpochShift = 48;

    public static int EpochOf(long handle) => (int)(handle >> EpochShift);

    public static int EpochOf(ulong cookie) => (int)(cookie >> EpochShift);

    /// <summary>The epoch a forked child of an engine in <paramref name="epoch"/> starts (the last one repeats).</summary>
    public static int NextEpoch(int epoch) => Math.Min(epoch + 1, MaxEpoch);

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
            var handle = ((long)Epoch << EpochShift) | (_serial << SlotBits) | (long)slot;
            Volatile.Write(ref _slots[slot], new Entry(handle, context));
            _live++;
            return handle;
        }
    }

    /// <summary>The open entry for <paramref name="handle"/>, or null. It may be closed concurrently: check <see cref="Entry.Closed"/> after entering the gate.</summary>
    public Entry? Find(long handle)
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

    /// <summary>Forgets a handle; the context is disposed now, or by the last call still inside it. False if unknown.</summary>
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
            _live--;
        }
        entry.Closed = 1;
        Interlocked.MemoryBarrierProcessWide(); // a caller inside is now visible, or it sees Closed
        TryDispose(entry);
        return true;
    }

    /// <summary>
    /// Called after a call on a closed entry has left the gate: disposes the context if nobody is
    /// inside any more. Whoever comes last disposes; several may try, exactly one does.
    /// </summary>
    public void AfterLeavingClosed(Entry entry)
    {
        Interlocked.MemoryBarrier(); // our Leave before our scan, for the other leavers
        TryDispose(entry);
    }

    private void TryDispose(Entry entry)
    {
        if (gate.NoneInside(entry.Handle) && Interlocked.Exchange(ref entry.Disposed, 1) == 0)
            entry.Context.Dispose();
    }
}
