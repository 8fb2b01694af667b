namespace IommuFd.Core.Machines;

/// <summary>Which IOMMU an instance emulates; the JSON names are the preset names.</summary>
public enum IommuModel
{
    /// <summary>The kernel selftest's mock IOMMU (today's behaviour).</summary>
    Selftest,
    /// <summary>Intel VT-d.</summary>
    IntelVtd,
    /// <summary>AMD-Vi (AMD IOMMU).</summary>
    AmdVi,
    /// <summary>Arm SMMUv3.</summary>
    ArmSmmuV3,
}

/// <summary>JSON names and the per-model limits a description is checked against.</summary>
public static class IommuModels
{
    private const ulong K4 = 1UL << 12, K16 = 1UL << 14, K64 = 1UL << 16, M2 = 1UL << 21, M32 = 1UL << 25, M512 = 1UL << 29, G1 = 1UL << 30;

    /// <summary>The model's JSON name.</summary>
    public static string Name(IommuModel model) => model switch
    {
        IommuModel.Selftest => "selftest",
        IommuModel.IntelVtd => "intel-vtd",
        IommuModel.AmdVi => "amd-vi",
        IommuModel.ArmSmmuV3 => "arm-smmuv3",
        _ => throw new ArgumentOutOfRangeException(nameof(model)),
    };

    /// <summary>The model with JSON name <paramref name="name"/>; false for an unknown name.</summary>
    public static bool TryParse(string name, out IommuModel model)
    {
        foreach (var candidate in Enum.GetValues<IommuModel>())
        {
            if (Name(candidate) == name)
            {
                model = candidate;
                return true;
            }
        }
        model = default;
        return false;
    }

    /// <summary>Every model's JSON name, comma-separated (for error messages).</summary>
    public static string AllNames => string.Join(", ", Enum.GetValues<IommuModel>().Select(Name));

    /// <summary>
    /// Page sizes the model's formats can hold: VT-d second stage and x86 first stage 4 KiB / 2 MiB / 1 GiB;
    /// AMD v1 every power of two from 4 KiB to 1 GiB (the ones between natural sizes as size-coded runs);
    /// ARM LPAE the 4 KiB granule's 4 KiB / 2 MiB / 1 GiB plus the 16 KiB (32 MiB) and 64 KiB (512 MiB) granules.
    /// The mock's sizes are its own (2 KiB granule) and are not configurable.
    /// </summary>
    public static ulong AllowedPageSizes(IommuModel model) => model switch
    {
        IommuModel.IntelVtd => K4 | M2 | G1,
        IommuModel.AmdVi => ((G1 << 1) - 1) & ~(K4 - 1),
        IommuModel.ArmSmmuV3 => K4 | M2 | G1 | K16 | M32 | K64 | M512,
        _ => 0,
    };

    /// <summary>Input address widths the model's tables can be built for, as (lowest, highest, step); VT-d has 3/4/5 levels.</summary>
    public static IReadOnlyList<int> AllowedAddressWidths(IommuModel model) => model switch
    {
        IommuModel.IntelVtd => [39, 48, 57],
        IommuModel.AmdVi => [.. Enumerable.Range(32, 33)],
        IommuModel.ArmSmmuV3 => [.. Enumerable.Range(32, 21)],
        _ => [],
    };

    /// <summary>The widest PASID (substream ID) the model's architecture defines: 20 bits everywhere.</summary>
    public const int MaxPasidWidth = 20;
}
