namespace IommuFd.Core.AddressSpace;

public sealed partial class IoPageTable
{
    /// <summary>
    /// Whether areas cover every IOVA of [first, last] with no hole between them: dirty data is
    /// only read over mapped IOVA (the kernel walks contiguous areas and refuses a gap).
    /// </summary>
    internal bool CoversContiguously(ulong first, ulong last)
    {
        lock (_lock)
        {
            var cursor = first;
            for (var node = _spans.FirstIntersecting(first, first); node is Area area; node = _spans.Next(area))
            {
                if (area.Start > cursor)
                    return false;
                if (area.Last >= last)
                    return true;
                cursor = area.Last + 1;
            }
            return false;
        }
    }
}
