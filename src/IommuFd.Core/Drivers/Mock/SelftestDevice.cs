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

    /// <summary>Whether the device was bound (and this handle counts as its user).</summary>
    private bool _bound;

    /// <summary>Binds the device to the context; the handle then uses it until destroyed.</summary>
    internal Errno Bind()
    {
        var rc = Context.BindDevice(Device, out _);
        if (rc != Errno.Ok)
            return rc;
        Context.Objects.AddUser(Device);
        _bound = true;
        return Errno.Ok;
    }

    /// <summary>Unplugs the device: detached, no longer used, unbound. Also undoes a creation that stopped half way.</summary>
    protected internal override void OnDestroy()
    {
        if (!_bound)
            return;
        Context.DetachAllPasids(Device.TypedId);
        Context.DetachDevice(Device.TypedId);
        Context.Objects.RemoveUser(Device);
        Context.Objects.Destroy(Device.Id);
    }
}
