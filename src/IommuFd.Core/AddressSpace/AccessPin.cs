using IommuFd.Core.Pages;

namespace IommuFd.Core.AddressSpace;

/// <summary>CPU pages [FirstPage, LastPage] of an area's user pages, pinned for an access.</summary>
internal readonly record struct PinnedSlice(Area Area, ulong FirstPage, ulong LastPage)
{
    public UserPages Pages => Area.Pages;
}

/// <summary>
/// Pages an access pinned for [Iova, Iova+Length): one slice per area crossed, each holding a
/// pin user on its pages. Released exactly as taken.
/// </summary>
public sealed class AccessPin
{
    internal AccessPin(ulong iova, ulong length, List<PinnedSlice> slices, ulong[] userPages, bool locked = false)
    {
        Locked = locked;
        Iova = iova;
        Length = length;
        Slices = slices;
        UserPages = userPages;
    }

    public ulong Iova { get; }

    public ulong Length { get; }

    /// <summary>The user address of each pinned CPU page, in IOVA order (what a driver would DMA to).</summary>
    public IReadOnlyList<ulong> UserPages { get; }

    internal IReadOnlyList<PinnedSlice> Slices { get; }

    internal bool Released { get; set; }

    /// <summary>Whether the pin locks its areas against unmapping (see <see cref="Area.Locks"/>).</summary>
    public bool Locked { get; }
}
