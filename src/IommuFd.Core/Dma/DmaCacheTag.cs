namespace IommuFd.Core.Dma;

/// <summary>
/// A domain's identity in IOTLBs (the domain ID hardware tags entries with) and the way its owner
/// reaches every IOTLB that may cache it. A paging domain calls <see cref="InvalidateRange"/> after
/// each unmap (the kernel flushes before UNMAP returns); a nested domain calls <see cref="InvalidateAll"/>
/// or <see cref="InvalidateStageOne"/> when the program asks (HWPT_INVALIDATE), and only then.
/// </summary>
public sealed class DmaCacheTag
{
    private static int s_last;
    private readonly Lock _lock = new();
    private Iotlb[] _caches = [];

    /// <summary>Unique for the process; tags are never reused, so a dead domain's entries cannot alias a new one.</summary>
    public uint Value { get; } = (uint)Interlocked.Increment(ref s_last);

    private long _generation;

    /// <summary>
    /// Bumped before every invalidation reaches the caches. A translation walked before a bump
    /// is not cached after it, so a walk racing an unmap cannot leave a stale entry behind.
    /// </summary>
    public long Generation => Volatile.Read(ref _generation);

    /// <summary>An IOTLB is about to cache an entry under this tag.</summary>
    internal void Register(Iotlb cache)
    {
        var caches = Volatile.Read(ref _caches);
        foreach (var c in caches)
            if (ReferenceEquals(c, cache))
                return;
        lock (_lock)
        {
            if (Array.IndexOf(_caches, cache) < 0)
                _caches = [.. _caches, cache];
        }
    }

    /// <summary>Stage-2 input range [iova, +length) changed: drops paging entries there and nested entries built on it.</summary>
    public void InvalidateRange(ulong iova, ulong length)
    {
        if (length == 0)
            return;
        Interlocked.Increment(ref _generation);
        var last = iova + Math.Min(length - 1, ulong.MaxValue - iova);
        foreach (var cache in Volatile.Read(ref _caches))
            cache.InvalidateStageTwo(Value, iova, last);
    }

    /// <summary>Everything cached under this tag (as stage 1 or as stage 2).</summary>
    public void InvalidateAll()
    {
        Interlocked.Increment(ref _generation);
        foreach (var cache in Volatile.Read(ref _caches))
            cache.InvalidateTag(Value);
    }

    /// <summary>Entries looked up through this (stage-1) tag for <paramref name="pasid"/> in [first, last].</summary>
    public void InvalidateStageOne(uint pasid, ulong first, ulong last)
    {
        Interlocked.Increment(ref _generation);
        foreach (var cache in Volatile.Read(ref _caches))
            cache.InvalidateStageOne(Value, pasid, first, last);
    }
}
