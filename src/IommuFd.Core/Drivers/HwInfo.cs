namespace IommuFd.Core.Drivers;

/// <summary>What IOMMU_GET_HW_INFO reports for a device: the driver's type and bytes, and generic capabilities.</summary>
public sealed record HwInfo(uint Type, byte[] Data, ulong Capabilities, byte MaxPasidLog2);
