using IommuFd.Core.Domains;
using IommuFd.Core.Drivers;
using IommuFd.Core.Faults;

namespace IommuFd.Core.Objects;

/// <summary>
/// A hardware page table devices attach to: paging (<see cref="HwptPaging"/>, mirrors an IOAS) or
/// nested (<see cref="HwptNested"/>, a guest stage 1 over a paging parent). Either may deliver the
/// device's page requests to a fault queue.
/// </summary>
public abstract class Hwpt : IommufdObject
{
    private protected Hwpt(IIommuDriver driver) => Driver = driver;

    public IIommuDriver Driver { get; }

    /// <summary>The IOAS whose mappings the hardware ends up using (a nested HWPT's is its parent's).</summary>
    public abstract Ioas Ioas { get; }

    /// <summary>The driver's domain a device is attached to.</summary>
    public abstract IIommuDomain AttachDomain { get; }

    /// <summary>Where page requests of devices attached here go, or null (they are answered Invalid).</summary>
    public FaultQueue? Fault { get; internal set; }

    public HwptId TypedId => new(Id.Value);

    /// <summary>Set by the context: releases what the HWPT holds (its IOAS or parent, its fault queue).</summary>
    internal Action? Teardown;

    protected internal override void OnDestroy() => Teardown?.Invoke();
}
