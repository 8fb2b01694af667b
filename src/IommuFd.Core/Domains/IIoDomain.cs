namespace IommuFd.Core.Domains;

/// <summary>
/// A hardware page table that mirrors an IOAS's software copy. The I/O page table drives it:
/// it never decides what is mapped, it only holds what it is told, or refuses.
/// </summary>
public interface IIoDomain : IIommuDomain
{
    /// <summary>The IOVAs the hardware can translate; the IOAS reserves everything outside.</summary>
    IovaRange Aperture { get; }

    /// <summary>Bit n set: pages of 2^n bytes are supported. The lowest bit sets the IOVA alignment.</summary>
    ulong PageSizeBitmap { get; }

    /// <summary>
    /// Maps [iova, iova+length) to user memory from <paramref name="userAddress"/>, with entries no
    /// larger than <paramref name="largestPage"/> (the CPU page size when the IOAS has huge pages
    /// off, else unlimited). All or nothing: on an error nothing of this call stays mapped.
    /// </summary>
    Errno Map(ulong iova, ulong userAddress, ulong length, IoProt prot, ulong largestPage = ulong.MaxValue);

    /// <summary>Unmaps a range previously mapped by exactly matching <see cref="Map"/> calls. Never fails.</summary>
    void Unmap(ulong iova, ulong length);
}
