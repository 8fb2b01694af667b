using System.Numerics;
using System.Runtime.CompilerServices;

namespace IommuFd.Core.Dma;

/// <summary>
/// The IOTLB's key → slot index: open addressing with linear probing at a load of at most one
/// half, and backward-shift deletion so no tombstones build up. Cheaper per lookup than a general
/// dictionary, which matters because every page of every DMA request looks up here.
/// The caller holds the IOTLB's lock.
/// </summary>
internal sealed class IotlbIndex
{
    private readonly int[] _buckets;
    private readonly int _mask;

    public IotlbIndex(int capacity)
    {
        var size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(capacity * 2, 4));
        _buckets = new int[size];
        _mask = size - 1;
    }

    public int Count { get; private set; }

    /// <summary>
    /// The slot holding <paramref name="key"/>, or -1. Also called without the lock by a lookup that
    /// validates afterwards, so it must end on any snapshot: at most one pass over the buckets.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int Find(in IotlbKey key, IotlbKey[] keys)
    {
        var i = Home(key);
        for (var probes = 0; probes <= _mask; probes++, i = (i + 1) & _mask)
        {
            var stored = _buckets[i] - 1;
            if (stored < 0)
                return -1;
            if (Same(keys[stored], key))
                return stored;
        }
        return -1;
    }

    public void Add(in IotlbKey key, int slot)
    {
        var i = Home(key);
        while (_buckets[i] != 0)
            i = (i + 1) & _mask;
        _buckets[i] = slot + 1;
        Count++;
    }

    public void Remove(in IotlbKey key, IotlbKey[] keys)
    {
        var hole = Home(key);
        while (!Same(keys[_buckets[hole] - 1], key))
            hole = (hole + 1) & _mask;
        _buckets[hole] = 0;
        Count--;
        // Pull later members of the probe run back over the hole when their home allows it.
        for (var j = (hole + 1) & _mask; _buckets[j] != 0; j = (j + 1) & _mask)
        {
            var home = Home(keys[_buckets[j] - 1]);
            var homeAfterHole = ((home - hole - 1) & _mask) < ((j - hole) & _mask);
            if (homeAfterHole)
                continue;
            _buckets[hole] = _buckets[j];
            _buckets[j] = 0;
            hole = j;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Home(in IotlbKey key)
    {
        var mixed = (key.PageNumber * 0x9E3779B97F4A7C15UL) ^ ((((ulong)key.Tag << 32) | key.Pasid) * 0xC2B2AE3D27D4EB4FUL) ^ (uint)key.SizeLog2;
        return (int)(mixed >> 32) & _mask;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Same(in IotlbKey a, in IotlbKey b) =>
        a.PageNumber == b.PageNumber && a.Tag == b.Tag && a.Pasid == b.Pasid && a.SizeLog2 == b.SizeLog2;
}
