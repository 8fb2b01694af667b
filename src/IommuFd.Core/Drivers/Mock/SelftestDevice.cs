using IommuFd.Core.Devices;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// The self-test's handle on a mock device it created (IOMMUFD_OBJ_SELFTEST). Destroying it
/// detaches and unbinds the device, as unplugging would.
/// </summary>
public sealed class SelftestDevice : IommufdObject
{
    internal SelftestDevice(IommufdContext context, Device device)
    {
        Context = context;
        Device = device;
    }

    public override ObjectKind Kind => ObjectKind.Selftest;

    public IommufdContext Context { get; }

    public Device Device { get; }

    protected internal override void OnDestroy()
    {
        Context.DetachDevice(Device.TypedId);
        Context.Objects.RemoveUser(Device);
        Context.Objects.Destroy(Device.Id);
    }
}
