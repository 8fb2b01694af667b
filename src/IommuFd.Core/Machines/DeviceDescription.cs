namespace IommuFd.Core.Machines;

/// <summary>
/// One device of a machine: where it sits on PCI, which IOMMU translates its DMA, the group it
/// shares an attachment with, the device model that emulates it and IOVA it may never use.
/// </summary>
public sealed record DeviceDescription
{
    /// <summary>A short name (e.g. "dma0"); unique in the machine.</summary>
    public required string Name { get; init; }

    /// <summary>Where the device sits on PCI.</summary>
    public required PciAddress Pci { get; init; }

    /// <summary>Devices with the same group name share an iommu_group (and must sit behind one IOMMU).</summary>
    public required string Group { get; init; }

    /// <summary>The <see cref="IommuDescription.Id"/> of the IOMMU translating it.</summary>
    public required string Iommu { get; init; }

    /// <summary>A device model name (<see cref="DeviceModels"/>).</summary>
    public string Model { get; init; } = DeviceModels.DmaTest;

    /// <summary>IOVA ranges reserved for this device on top of those its IOMMU model reports.</summary>
    public IReadOnlyList<IovaRange> ReservedRegions { get; init; } = [];
}

/// <summary>Device models a description may name.</summary>
public static class DeviceModels
{
    /// <summary>The built-in DMA test device (its registers come with the VFIO device fds).</summary>
    public const string DmaTest = "dma-test";

    /// <summary>Every model name a description may use.</summary>
    public static IReadOnlyList<string> Known { get; } = [DmaTest];
}
