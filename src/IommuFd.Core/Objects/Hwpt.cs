using IommuFd.Core.Domains;
using IommuFd.Core.Drivers;
using IommuFd.Core.Faults;

namespace IommuFd.Core.Objects;

/// <summary>
/// A hardware page table devices attach to: paging (<see cref="HwptPaging"/>, mirrors an IOAS) or
/// nested (<see cref="HwptNested"/>, a guest stage 1 over a paging parent). Either may deliver the
/// device's page requests to a fault queue, which it then uses (DESTROY of the queue is EBUSY).
/// Each kind releases what it acquired in its own <see cref="OnDestroy"/>.
/// </summary>
public abstract class Hwpt : IommufdObject
{
    private protected Hwpt(IommufdContext context, IIommuDriver driver)
    {
        Context = context;
        Driver = driver;
    }

    internal IommufdContext Context { get; }

    public IIommuDriver Driver { get; }

    /// <summary>The IOAS whose mappings the hardware ends up using (a nested HWPT's is its parent's).</summary>
    public abstract Ioas Ioas { get; }

    /// <summary>The driver's domain a device is attached to.</summary>
    public abstract IIommuDomain AttachDomain { get; }

    /// <summary>Where page requests of devices attached here go, or null (they are answered Invalid).</summary>
    public FaultQueue? Fault { get; private set; }

    public HwptId TypedId => new(Id.Value);

    /// <summary>
    /// Allocated with IOMMU_HWPT_ALLOC_PASID: only such an HWPT attaches to a PASID, and while any
    /// PASID of a device is attached, its RID only attaches to such an HWPT (an automatic HWPT
    /// never is one).
    /// </summary>
    public bool PasidCompatible { get; internal init; }

    /// <summary>Sends page requests to the queue <paramref name="faultId"/>, which this HWPT then uses. ENOENT when unknown.</summary>
    internal Errno UseFaultQueue(FaultId faultId)
    {
        using var fault = Context.Objects.Hold<FaultQueue>(faultId);
        if (!fault.Held)
            return Errno.ENOENT;
        Context.Objects.AddUser(fault.Value);
        Fault = fault.Value;
        return Errno.Ok;
    }

    protected internal override void OnDestroy()
    {
        if (Fault is { } fault)
            Context.Objects.RemoveUser(fault);
    }
}
