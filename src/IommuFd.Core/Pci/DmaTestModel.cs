using IommuFd.Core.Dma;
using IommuFd.Core.Faults;

namespace IommuFd.Core.Pci;

/// <summary>
/// The DMA test device as its IOMMU's error reporting sees it: it takes faults as errors (it
/// cannot make page requests, so a fault never waits for a page response) and remembers them for
/// the fault registers. The device reads the same fault from the port's result; this record is
/// where it shows that the IOMMU reported it to the device.
/// </summary>
public sealed class DmaTestModel : IDmaDeviceModel
{
    private long _errors;

    /// <summary>The device model's name, as machine descriptions spell it.</summary>
    public string Name => Machines.DeviceModels.DmaTest;

    /// <summary>False: the device has no PRI, so faults go to it as errors.</summary>
    public bool CanRequestPages => false;

    /// <summary>The last fault reported to the device (null before any).</summary>
    public DmaFault? LastError { get; private set; }

    /// <summary>Faults reported to the device since it was made.</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Records <paramref name="fault"/>.</summary>
    public void OnDmaError(DmaFault fault)
    {
        LastError = fault;
        Interlocked.Increment(ref _errors);
    }

    /// <summary>Never asked for (no page requests); an answer is ignored.</summary>
    public void OnPageResponse(DmaFault fault, PageResponseCode code)
    {
    }
}
