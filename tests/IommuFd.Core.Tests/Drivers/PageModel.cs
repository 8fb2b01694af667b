using IommuFd.Core;

namespace IommuFd.Core.Tests.Drivers;

/// <summary>
/// The obvious page table: one dictionary entry per page of the smallest size. Map is all or
/// nothing and refuses any overlap; Unmap removes whatever is there and reports the bytes.
/// </summary>
internal sealed class PageModel(ulong pageSize)
{
    private readonly Dictionary<ulong, (ulong Output, IoProt Prot)> _pages = [];

    public ulong PageSize { get; } = pageSize;

    public int Count => _pages.Count;

    public IEnumerable<ulong> MappedIovas => _pages.Keys;

    public Errno Map(ulong iova, ulong output, ulong length, IoProt prot)
    {
        for (var off = 0UL; off < length; off += PageSize)
            if (_pages.ContainsKey(iova + off))
                return Errno.EEXIST;
        for (var off = 0UL; off < length; off += PageSize)
            _pages[iova + off] = (output + off, prot);
        return Errno.Ok;
    }

    public ulong Unmap(ulong iova, ulong length)
    {
        var removed = 0UL;
        for (var off = 0UL; off < length; off += PageSize)
            if (_pages.Remove(iova + off))
                removed += PageSize;
        return removed;
    }

    /// <summary>The output address and permissions of any byte, or null.</summary>
    public (ulong Output, IoProt Prot)? Lookup(ulong iova)
    {
        var offset = iova % PageSize;
        return _pages.TryGetValue(iova - offset, out var e) ? (e.Output + offset, e.Prot) : null;
    }
}
