using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers;

namespace IommuFd.Core.Tests.Infrastructure;

/// <summary>
/// A configurable IOMMU driver for tests: its domains are <see cref="RecordingDomain"/>s with a
/// chosen aperture; devices are compatible with a domain only when they share its "family".
/// </summary>
public sealed class TestDriver(IovaRange aperture) : IIommuDriver
{
    private readonly Dictionary<IIoDomain, string> _families = new(ReferenceEqualityComparer.Instance);

    public string Name => "test";

    public List<RecordingDomain> Domains { get; } = [];

    /// <summary>Map call (counted across the next domain's life) on which the next domain fails; 0 never.</summary>
    public int NextDomainFailsOnMapCall { get; set; }

    public Device CreateDevice(string family = "a", IReadOnlyList<IovaRange>? reserved = null, DeviceGroup? group = null) =>
        new(this, group ?? new DeviceGroup(family), reserved ?? [], family);

    public bool SupportsDirtyTracking(Device device) => false;

    public Errno AllocatePagingDomain(Device device, HwptAllocFlags flags, IDriverData? data, out IIoDomain domain)
    {
        var recording = new RecordingDomain(aperture, NextDomainFailsOnMapCall);
        NextDomainFailsOnMapCall = 0;
        _families[recording] = (string)device.DriverState!;
        Domains.Add(recording);
        domain = recording;
        return Errno.Ok;
    }

    /// <summary>A nested domain over a parent of the device's family; the data is not looked at.</summary>
    public Errno AllocateNestedDomain(Device device, IIoDomain parent, HwptAllocFlags flags, IDriverData data, out INestedDomain domain)
    {
        domain = null!;
        if (!_families.TryGetValue(parent, out var family) || family != (string)device.DriverState!)
            return Errno.EINVAL;
        domain = new TestNestedDomain(parent);
        return Errno.Ok;
    }

    public Errno CheckAttach(Device device, IIommuDomain domain)
    {
        var paging = domain is TestNestedDomain nested ? nested.Parent : domain as IIoDomain;
        return paging is not null && _families.TryGetValue(paging, out var family) && family == (string)device.DriverState! ? Errno.Ok : Errno.EINVAL;
    }

    /// <summary>A stage-1 domain that only remembers its parent; every invalidation succeeds.</summary>
    public sealed class TestNestedDomain(IIoDomain parent) : INestedDomain
    {
        public IIoDomain Parent { get; } = parent;

        public Errno Invalidate(IDriverArray requests, out uint handled)
        {
            handled = requests.Count;
            return Errno.Ok;
        }
    }

    public Errno GetHwInfo(Device device, uint requestedType, out HwInfo info)
    {
        info = new HwInfo(0, [], 0, 0);
        return Errno.Ok;
    }
}
