namespace IommuFd.Core.Machines;

/// <summary>
/// One IOMMU instance of a machine: its model and the abilities it advertises. Defaults are the
/// model's usual hardware (see <see cref="ForModel"/>); a description may narrow them.
/// </summary>
public sealed record IommuDescription
{
    /// <summary>The name devices refer to it by (e.g. "dmar0").</summary>
    public required string Id { get; init; }

    /// <summary>Which IOMMU it emulates.</summary>
    public required IommuModel Model { get; init; }

    /// <summary>Input (IOVA) address width in bits.</summary>
    public int AddressWidth { get; init; } = 48;

    /// <summary>Bit n set: pages of 2^n bytes. 0 for the selftest model, whose sizes are fixed.</summary>
    public ulong PageSizes { get; init; }

    /// <summary>IOTLB entries (fully associative, least recently used goes first).</summary>
    public int IotlbEntries { get; init; } = 64;

    /// <summary>Whether it advertises dirty tracking (IOMMU_HW_CAP_DIRTY_TRACKING).</summary>
    public bool DirtyTracking { get; init; }

    /// <summary>Whether paging domains may be NEST_PARENT and nested (stage-1) domains built on them.</summary>
    public bool Nesting { get; init; }

    /// <summary>PASID width in bits; 0 means no PASID support.</summary>
    public int PasidWidth { get; init; }

    /// <summary>Page requests (PCIe PRI / SMMU stall): faults can go to a fault queue instead of the device.</summary>
    public bool Pri { get; init; }

    /// <summary>The model's usual abilities, for an IOMMU named <paramref name="id"/>.</summary>
    public static IommuDescription ForModel(string id, IommuModel model) => model switch
    {
        IommuModel.Selftest => new() { Id = id, Model = model, AddressWidth = 56, IotlbEntries = 64, DirtyTracking = true, Nesting = true, PasidWidth = 20, Pri = true },
        IommuModel.IntelVtd => new() { Id = id, Model = model, AddressWidth = 48, PageSizes = (1UL << 12) | (1UL << 21) | (1UL << 30), DirtyTracking = true, Nesting = true, PasidWidth = 20, Pri = true },
        IommuModel.AmdVi => new() { Id = id, Model = model, AddressWidth = 48, PageSizes = (1UL << 12) | (1UL << 21) | (1UL << 30), DirtyTracking = true, Nesting = false, PasidWidth = 16, Pri = true },
        IommuModel.ArmSmmuV3 => new() { Id = id, Model = model, AddressWidth = 48, PageSizes = (1UL << 12) | (1UL << 21) | (1UL << 30), DirtyTracking = true, Nesting = true, PasidWidth = 20, Pri = true },
        _ => throw new ArgumentOutOfRangeException(nameof(model)),
    };
}
