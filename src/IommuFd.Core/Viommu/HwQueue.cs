using IommuFd.Core.AddressSpace;
using IommuFd.Core.Objects;

namespace IommuFd.Core.VirtualIommu;

/// <summary>
/// A HW queue (IOMMUFD_OBJ_HW_QUEUE): a queue in guest memory that the IOMMU reads directly, by
/// the nesting parent's IOVA. Its pages stay pinned and locked for its life, so the IOAS cannot
/// unmap them (EBUSY). It uses its vIOMMU and, where the driver says so, the queue before it.
/// </summary>
public sealed class HwQueue : IommufdObject
{
    internal HwQueue(Viommu viommu, uint type, ulong iova, ulong length)
    {
        Viommu = viommu;
        Type = type;
        Iova = iova;
        Length = length;
        viommu.Context.Objects.AddUser(viommu);
    }

    public override ObjectKind Kind => ObjectKind.HwQueue;

    public Viommu Viommu { get; }

    public uint Type { get; }

    public ulong Iova { get; }

    public ulong Length { get; }

    /// <summary>The queue's slot, once the driver granted it.</summary>
    public uint? Index { get; private set; }

    /// <summary>The locked pin of the queue's pages, once taken.</summary>
    internal AccessPin? Pin { get; set; }

    /// <summary>The queue this one depends on (and uses), if any.</summary>
    private HwQueue? _previous;

    /// <summary>Takes slot <paramref name="index"/> from the driver and uses the queue it depends on.</summary>
    internal Errno Claim(uint index)
    {
        var rc = Viommu.Instance.ClaimHwQueue(index, out var dependsOn);
        if (rc != Errno.Ok)
            return rc;
        Index = index;
        Viommu.SetHwQueue(index, this);
        if (dependsOn is { } earlier && Viommu.FindHwQueue(earlier) is { } previous)
        {
            Viommu.Context.Objects.AddUser(previous);
            _previous = previous;
        }
        return Errno.Ok;
    }

    protected internal override void OnDestroy()
    {
        if (Index is { } index)
        {
            Viommu.SetHwQueue(index, null);
            Viommu.Instance.ReleaseHwQueue(index);
        }
        if (_previous is not null)
            Viommu.Context.Objects.RemoveUser(_previous);
        if (Pin is not null)
            Viommu.Parent.Ioas.PageTable.UnpinForAccess(Pin);
        Viommu.Context.Objects.RemoveUser(Viommu);
    }
}
