using IommuFd.Core.Devices;
using IommuFd.Core.Dma;
using IommuFd.Core.Drivers;

namespace IommuFd.Core.Machines;

/// <summary>One running IOMMU of a machine: its description, its driver and its IOTLB (shared by every device behind it).</summary>
public sealed class IommuInstance
{
    public IommuInstance(IommuDescription description, IIommuDriver driver)
    {
        Description = description;
        Driver = driver;
        Iotlb = new Iotlb(description.IotlbEntries);
    }

    public IommuDescription Description { get; }

    public IIommuDriver Driver { get; }

    public Iotlb Iotlb { get; }

    /// <summary>
    /// The DMA side of <paramref name="device"/> (bound to <paramref name="context"/>) behind this
    /// IOMMU, with <paramref name="model"/> hearing its faults. Page requests follow the IOMMU's PRI.
    /// </summary>
    public DmaPort OpenDma(IommufdContext context, Device device, IDmaDeviceModel model) =>
        new(context, device, Iotlb, model, Description.Pri);
}
