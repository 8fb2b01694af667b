namespace IommuFd.Core.Devices;

/// <summary>
/// Devices the IOMMU cannot tell apart (an iommu_group): they share one attachment. The first
/// device to attach decides the HWPT; the others must join the same one.
/// </summary>
public sealed class DeviceGroup
{
    internal readonly List<Device> Attached = [];

    public string Name { get; }

    public DeviceGroup(string name) => Name = name;

    /// <summary>The HWPT the group's attached devices use, or null.</summary>
    public Objects.Hwpt? Hwpt { get; internal set; }
}
