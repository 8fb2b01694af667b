namespace IommuFd.Core.Dma;

/// <summary>The two faults an IOMMU reports for a request it cannot complete.</summary>
public enum DmaFaultKind
{
    /// <summary>Nothing translates the address (or the device is blocked).</summary>
    Translation,

    /// <summary>A translation exists but does not allow the access.</summary>
    Permission,
}

/// <summary>Why a request faulted, in more detail than the kind.</summary>
public enum DmaFaultReason
{
    /// <summary>The device is not attached: everything is blocked.</summary>
    Blocked,

    /// <summary>No leaf for the address (in the stage <see cref="DmaFault.Stage"/> names).</summary>
    NotMapped,

    /// <summary>The leaf does not allow the access.</summary>
    NoPermission,

    /// <summary>A PASID request on an attachment that has no context for that PASID.</summary>
    PasidNotAttached,

    /// <summary>A stage-1 table entry lives at an address stage 2 does not translate.</summary>
    StageOneTableNotMapped,

    /// <summary>The attached domain's driver offers no DMA walk.</summary>
    Untranslatable,

    /// <summary>The output address reached no memory (the program unmapped memory the IOMMU maps).</summary>
    MemoryError,
}

/// <summary>
/// A DMA request that stopped: the kind, why, the stage whose table said no (1: a nested domain's
/// stage 1; 2: the paging domain iommufd manages, alone or as the parent; 0: neither), the exact
/// faulting address, and how many bytes of the request were transferred before it.
/// </summary>
public sealed record DmaFault(
    DmaFaultKind Kind,
    DmaFaultReason Reason,
    int Stage,
    ulong Iova,
    uint Pasid,
    DmaDirection Direction,
    ulong BytesTransferred)
{
    /// <summary>Whether a page request could fix it (the program may map the page and answer Success).</summary>
    public bool Recoverable => Reason is DmaFaultReason.NotMapped or DmaFaultReason.NoPermission or DmaFaultReason.StageOneTableNotMapped;
}

/// <summary>Where a fault went, as the hardware would send it.</summary>
public enum DmaFaultRoute
{
    None,

    /// <summary>To the device model as an error (<see cref="IDmaDeviceModel.OnDmaError"/>).</summary>
    DeviceModel,

    /// <summary>To the HWPT's fault queue as a page request; the model hears the answer later.</summary>
    PageRequest,
}

/// <summary>The outcome of one DMA request: bytes moved, and the fault that stopped it (null when complete).</summary>
public readonly record struct DmaResult(ulong BytesTransferred, DmaFault? Fault, DmaFaultRoute Route)
{
    public bool Completed => Fault is null;
}
