using IommuFd.Core;
using IommuFd.Core.Domains;

namespace IommuFd.Core.Tests.Infrastructure;

/// <summary>
/// A domain that stores one entry per 4 KiB IO page, so tests can compare it page by page with
/// the software copy through the domain's own look-up. It can be told to fail its N-th map call,
/// and it throws on misuse (double map, unmapping what is not there) so engine bugs surface.
/// </summary>
public sealed class RecordingDomain(IovaRange aperture, int failOnMapCall = 0) : IIoDomain
{
    public const ulong PageSize = 4096;

    private readonly Dictionary<ulong, (ulong UserAddress, IoProt Prot)> _pages = [];

    public IovaRange Aperture { get; } = aperture;

    public ulong PageSizeBitmap => PageSize;

    /// <summary>Map calls seen so far (a failed call counts).</summary>
    public int MapCalls { get; private set; }

    /// <summary>The call number (1-based) that fails with ENOMEM; 0 means never.</summary>
    public int FailOnMapCall { get; set; } = failOnMapCall;

    public IReadOnlyDictionary<ulong, (ulong UserAddress, IoProt Prot)> Pages => _pages;

    public (ulong UserAddress, IoProt Prot)? Lookup(ulong iova) =>
        _pages.TryGetValue(iova & ~(PageSize - 1), out var e) ? (e.UserAddress + (iova & (PageSize - 1)), e.Prot) : null;

    /// <summary>The entry size cap of the last Map call.</summary>
    public ulong LastLargestPage { get; private set; }

    public Errno Map(ulong iova, ulong userAddress, ulong length, IoProt prot, ulong largestPage = ulong.MaxValue)
    {
        MapCalls++;
        LastLargestPage = largestPage;
        if (MapCalls == FailOnMapCall)
            return Errno.ENOMEM;
        if ((iova | userAddress | length) % PageSize != 0)
            throw new InvalidOperationException($"unaligned map 0x{iova:x}+0x{length:x}");
        if (iova < Aperture.Start || iova + length - 1 > Aperture.Last)
            throw new InvalidOperationException($"map outside the aperture at 0x{iova:x}");
        for (var off = 0UL; off < length; off += PageSize)
            if (_pages.ContainsKey(iova + off))
                throw new InvalidOperationException($"double map at 0x{iova + off:x}");
        for (var off = 0UL; off < length; off += PageSize)
            _pages[iova + off] = (userAddress + off, prot);
        return Errno.Ok;
    }

    public void Unmap(ulong iova, ulong length)
    {
        for (var off = 0UL; off < length; off += PageSize)
            if (!_pages.Remove(iova + off))
                throw new InvalidOperationException($"unmap of unmapped 0x{iova + off:x}");
    }
}
