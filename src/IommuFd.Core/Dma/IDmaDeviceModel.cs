using IommuFd.Core.Faults;

namespace IommuFd.Core.Dma;

/// <summary>
/// A device model: what emulates a device's behaviour behind its DMA port. Embedders implement it
/// for their own devices; the built-in DMA test device is one. The port calls it when a request
/// faults, as the IOMMU's error reporting would reach the device.
/// </summary>
public interface IDmaDeviceModel
{
    string Name { get; }

    /// <summary>Whether the device can raise page requests (PCIe PRI / stall) and wait for the answer.</summary>
    bool CanRequestPages { get; }

    /// <summary>An unrecoverable fault (or one nobody can handle): the device reports an error.</summary>
    void OnDmaError(DmaFault fault);

    /// <summary>The answer to a page request raised for <paramref name="fault"/>; on Success the device may retry.</summary>
    void OnPageResponse(DmaFault fault, PageResponseCode code);
}
