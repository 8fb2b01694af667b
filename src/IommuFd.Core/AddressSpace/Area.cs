using IommuFd.Core.Collections;
using IommuFd.Core.Pages;

namespace IommuFd.Core.AddressSpace;

/// <summary>
/// One mapping of the software copy: IOVAs [Start, Last] onto a slice of a <see cref="UserPages"/>,
/// beginning <see cref="StartByte"/> bytes past the pages' first page. Unmap never splits an area.
/// </summary>
internal sealed class Area : SpanNode
{
    public Area(UserPages pages, ulong iova, ulong startByte, ulong length, IoProt prot)
    {
        Pages = pages;
        Start = iova;
        Last = iova + (length - 1);
        StartByte = startByte;
        Prot = prot;
    }

    public UserPages Pages { get; }

    public ulong StartByte { get; }

    public IoProt Prot { get; }

    /// <summary>Pins that accesses hold inside this area; unmapping it must first ask them to let go.</summary>
    public int AccessPins { get; set; }

    /// <summary>Pins that are not given back on request (a HW queue a guest owns): unmapping the area is EBUSY while any exist.</summary>
    public int Locks { get; set; }

    /// <summary>Set while an unmap waits for accesses to release the area: new pins and reads are refused.</summary>
    public bool PreventAccess { get; set; }

    public ulong Length => Last - Start + 1;

    /// <summary>
    /// Address the first IOVA of the area translates to: the pinned pages' while they are pinned
    /// (they outlive the program's mapping), else the user address.
    /// </summary>
    public ulong UserAddress => Pages.Address + StartByte;

    /// <summary>The program's address the area was mapped from (for reports; never to reach the memory).</summary>
    public ulong ProgramAddress => Pages.Uptr + StartByte;

    /// <summary>Offset of the area's first byte within its CPU page.</summary>
    public ulong PageOffset => CpuPage.Offset(StartByte);

    public ulong FirstPageIndex => StartByte >> CpuPage.Shift;

    public ulong LastPageIndex => (StartByte + Length - 1) >> CpuPage.Shift;

    /// <summary>Byte offset into <see cref="Pages"/> that <paramref name="iova"/> (inside the area) maps.</summary>
    public ulong StartByteOf(ulong iova) => StartByte + (iova - Start);
}

/// <summary>One reservation as made: IOVA [Start, Last] reserved for <see cref="Owner"/> (null: nobody's).</summary>
internal readonly record struct Reservation(ulong Start, ulong Last, object? Owner);

/// <summary>A merged run of reserved IOVA held in the same tree as areas, so holes avoid both.</summary>
internal sealed class ReservedSpan : SpanNode
{
    public ReservedSpan(ulong start, ulong last)
    {
        Start = start;
        Last = last;
    }
}
