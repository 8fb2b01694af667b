using IommuFd.Core;
using IommuFd.Core.Domains;

namespace IommuFd.Cli;

/// <summary>
/// The simplest possible IOMMU domain for the demo: it accepts every mapping and remembers how many
/// bytes it holds. Attaching one makes the IOAS pin its pages, as a real device's domain would.
/// </summary>
internal sealed class DemoDomain : IIoDomain
{
    public IovaRange Aperture => IovaRange.Everything;

    /// <summary>4 KiB, 2 MiB and 1 GiB pages, as x86-64 page tables offer.</summary>
    public ulong PageSizeBitmap => (1UL << 12) | (1UL << 21) | (1UL << 30);

    public ulong MappedBytes { get; private set; }

    public Errno Map(ulong iova, ulong userAddress, ulong length, IoProt prot, ulong largestPage = ulong.MaxValue)
    {
        MappedBytes += length;
        return Errno.Ok;
    }

    public void Unmap(ulong iova, ulong length) => MappedBytes -= length;
}
