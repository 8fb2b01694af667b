namespace IommuFd.Core.AddressSpace;

/// <summary>
/// Something that reads, writes or pins memory through an IOAS without a domain of its own (an
/// emulated device, a mediated device). It must let go of pins when the user unmaps them.
/// </summary>
public interface IIoAccess
{
    /// <summary>The IOVA alignment the access needs (a CPU page when it pins pages, else 1).</summary>
    ulong IovaAlignment { get; }

    /// <summary>
    /// The user is unmapping [iova, iova+length): release every pin inside it before returning.
    /// Called without the page table's lock held.
    /// </summary>
    void NotifyUnmap(ulong iova, ulong length);
}
