using IommuFd.Core.Dma;
using IommuFd.Core.Domains;

namespace IommuFd.Core.Drivers.Hardware;

/// <summary>What a hardware driver knows of its paging domains whatever their format.</summary>
public interface IHardwarePagingDomain : IDirtyTrackingDomain, IDmaTranslatable
{
    HardwareIommuDriver Owner { get; }

    /// <summary>The page-table format's name (e.g. "vtd-ss-4level"): domains of one format and page sizes are interchangeable.</summary>
    string FormatName { get; }

    /// <summary>The HWPT_ALLOC flags it was made with (NEST_PARENT, DIRTY_TRACKING, PASID).</summary>
    HwptAllocFlags Flags { get; }

    ulong RootAddress { get; }

    ulong? Translate(ulong iova, out IoProt prot);

    IReadOnlyList<ulong> WalkEntries(ulong iova);
}
