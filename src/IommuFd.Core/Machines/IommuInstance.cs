using IommuFd.Core.Devices;
using IommuFd.Core.Dma;
using IommuFd.Core.Drivers;

namespace IommuFd.Core.Machines;

/// <summary>One running IOMMU of a machine: its description, its driver and its IOTLB (shared by every device behind it).</summary>
public sealed class IommuInstance
{
    /// <summary>An IOMMU of <paramref name="description"/> served by <paramref name="driver"/>, with an empty IOTLB.</summary>
    public IommuInstance(IommuDescription description, IIommuDriver driver)
    {
        Description = description;
        Driver = driver;
        Iotlb = new Iotlb(description.IotlbEntries);
    }

    /// <summary>The IOMMU's entry in the machine description.</summary>
    public IommuDescription Description { get; }

    /// <summary>The driver that builds this IOMMU's domains.</summary>
    public IIommuDriver Driver { get; }

    /// <summary>The IOTLB every device behind this IOMMU shares.</summary>
    public Iotlb Iotlb { get; }

    /// <summary>
    /// The DMA side of <paramref name="device"/> (bound to <paramref name="context"/>) behind this
    /// IOMMU, with <paramref name="model"/> hearing its faults. Page requests follow the IOMMU's PRI.
    /// </summary>
    public DmaPort OpenDma(IommufdContext context, Device device, IDmaDeviceModel model) =>
        new(context, device, Iotlb, model, Description.Pri);
}
