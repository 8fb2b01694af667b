namespace IommuFd.Core.Machines;

/// <summary>
/// Machines known by name. <c>selftest</c> is today's behaviour and the default; the others put
/// two DMA test devices, each in its own group, behind one IOMMU of the named model.
/// </summary>
public static class MachinePresets
{
    /// <summary>The kernel selftest's machine: one mock IOMMU, devices made on demand.</summary>
    public static MachineDescription Selftest { get; } = new()
    {
        Name = "selftest",
        Summary = "the kernel selftest's mock IOMMU; devices are made by IOMMU_TEST_CMD (the default)",
        Iommus = [IommuDescription.ForModel("mock0", IommuModel.Selftest)],
    };

    /// <summary>Two devices behind an Intel VT-d IOMMU.</summary>
    public static MachineDescription IntelVtd { get; } = TwoDevices("intel-vtd",
        "Intel VT-d, 48-bit, 4K/2M/1G, nesting, PASID 20, PRI, dirty tracking; two DMA test devices",
        IommuDescription.ForModel("dmar0", IommuModel.IntelVtd), firstSlot: 3);

    /// <summary>Two devices behind an AMD-Vi IOMMU.</summary>
    public static MachineDescription AmdVi { get; } = TwoDevices("amd-vi",
        "AMD-Vi (v1 tables), 48-bit, 4K/2M/1G, PASID 16, PRI, dirty tracking; two DMA test devices",
        IommuDescription.ForModel("ivhd0", IommuModel.AmdVi), firstSlot: 3);

    /// <summary>Two devices behind an Arm SMMUv3.</summary>
    public static MachineDescription ArmSmmuV3 { get; } = TwoDevices("arm-smmuv3",
        "Arm SMMUv3, 48-bit, 4K granule, nesting, SSID 20, stall/PRI, HTTU dirty; two DMA test devices",
        IommuDescription.ForModel("smmu0", IommuModel.ArmSmmuV3), firstSlot: 1);

    /// <summary>Every preset, as `iommufd-emu machines` lists them.</summary>
    public static IReadOnlyList<MachineDescription> All { get; } = [Selftest, IntelVtd, AmdVi, ArmSmmuV3];

    /// <summary>The preset called <paramref name="name"/>; false when there is none.</summary>
    public static bool TryGet(string name, out MachineDescription machine)
    {
        machine = All.FirstOrDefault(m => m.Name == name)!;
        return machine is not null;
    }

    private static MachineDescription TwoDevices(string name, string summary, IommuDescription iommu, byte firstSlot) => new()
    {
        Name = name,
        Summary = summary,
        Iommus = [iommu],
        Devices =
        [
            new DeviceDescription { Name = "dma0", Pci = new PciAddress(0, 0, firstSlot, 0), Group = "group0", Iommu = iommu.Id },
            new DeviceDescription { Name = "dma1", Pci = new PciAddress(0, 0, (byte)(firstSlot + 1), 0), Group = "group1", Iommu = iommu.Id },
        ],
    };
}
