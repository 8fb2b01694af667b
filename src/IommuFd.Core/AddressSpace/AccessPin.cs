using IommuFd.Core.Pages;

namespace IommuFd.Core.AddressSpace;

/// <summary>
/// Pages an access pinned for [Iova, Iova+Length): one slice per area crossed, each holding a
/// pin user on its pages. Released exactly as taken.
/// </summary>
public sealed class AccessPin
{
    internal AccessPin(ulong iova, ulong length, List<(Area Area, UserPages Pages, ulong First, ulong Last)> slices, ulong[] userPages)
    {
        Iova = iova;
        Length = length;
        Slices = slices;
        UserPages = userPages;
    }

    public ulong Iova { get; }

    public ulong Length { get; }

    /// <summary>The user address of each pinned CPU page, in IOVA order (what a driver would DMA to).</summary>
    public IReadOnlyList<ulong> UserPages { get; }

    internal List<(Area Area, UserPages Pages, ulong First, ulong Last)> Slices { get; }

    internal bool Released { get; set; }
}
