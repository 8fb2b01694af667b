namespace IommuFd.Core.Memory;

/// <summary>
/// The memory of the program whose addresses arrive in ioctls: read and written for struct
/// copies and emulated DMA, and pinned while an I/O page table maps it. Every method reports a
/// bad address as <see cref="Errno.EFAULT"/>; none may crash on one.
/// </summary>
public interface IUserMemory
{
    /// <summary>Copies <paramref name="destination"/>.Length bytes from <paramref name="address"/>; EFAULT if any byte is unmapped.</summary>
    Errno Read(ulong address, Span<byte> destination);

    /// <summary>Copies <paramref name="source"/> to <paramref name="address"/>; EFAULT if any byte is unmapped or read-only.</summary>
    Errno Write(ulong address, ReadOnlySpan<byte> source);

    /// <summary>
    /// Pins <paramref name="pageCount"/> CPU pages from page-aligned <paramref name="pageAddress"/>:
    /// every page must be mapped (and writable when asked), else nothing is pinned and EFAULT returns.
    /// </summary>
    Errno Pin(ulong pageAddress, ulong pageCount, bool writable);

    /// <summary>Releases one pin of each page; the pages must have been pinned.</summary>
    void Unpin(ulong pageAddress, ulong pageCount);

    /// <summary>
    /// How many pins the page holding <paramref name="address"/> carries: all contexts together,
    /// and pins taken through any other address that reaches the same memory.
    /// </summary>
    ulong PinCount(ulong address);

    /// <summary>
    /// Whether two addresses reach the same page of memory: the same page, or two shared mappings
    /// of one file page. The kernel's checks compare pages, not addresses.
    /// </summary>
    bool SamePage(ulong a, ulong b);

    /// <summary>
    /// The address the engine names pinned pages [pageAddress, +length) by from now on: pinned
    /// pages belong to the pin, not to the address, so a memory that can keep them past the
    /// program's unmap (the kernel's pin lifetime) hands out an address the program can never use,
    /// which every member here accepts. The default, for memory that cannot, is the address itself.
    /// See docs/pinned-memory-lifetime.md.
    /// </summary>
    ulong ReservePinAddress(ulong pageAddress, ulong length) => pageAddress;

    /// <summary>Gives back an address from <see cref="ReservePinAddress"/>: nothing is pinned through it any more.</summary>
    void ReleasePinAddress(ulong pinAddress, ulong length) { }
}
