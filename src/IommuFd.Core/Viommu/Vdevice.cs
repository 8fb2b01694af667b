using IommuFd.Core.Devices;
using IommuFd.Core.Objects;

namespace IommuFd.Core.VirtualIommu;

/// <summary>
/// A vDEVICE (IOMMUFD_OBJ_VDEVICE): a bound device as a guest sees it behind a vIOMMU, by its
/// virtual ID (unique per vIOMMU; a device has at most one). It uses its vIOMMU but not its
/// device: when the device goes, the vDEVICE is destroyed with it and its ID stays taken but dead
/// (a tombstone) until the context closes.
/// </summary>
public sealed class Vdevice : IommufdObject
{
    /// <summary>Whether the vDEVICE joined its vIOMMU's table and its device (what the end step undoes).</summary>
    private bool _joined;

    internal Vdevice(Viommu viommu, Device device, ulong virtualId)
    {
        Viommu = viommu;
        Device = device;
        VirtualId = virtualId;
        viommu.Context.Objects.AddUser(viommu);
    }

    public override ObjectKind Kind => ObjectKind.Vdevice;

    public Viommu Viommu { get; }

    public Device Device { get; }

    public ulong VirtualId { get; }

    /// <summary>Claims the virtual ID and the device: EEXIST when either is taken. Needs the context's attach lock.</summary>
    internal Errno Join()
    {
        if (Device.Vdevice is not null || !Viommu.TryAddVdevice(VirtualId, this))
            return Errno.EEXIST;
        Device.Vdevice = this;
        _joined = true;
        return Errno.Ok;
    }

    protected internal override void OnDestroy()
    {
        if (_joined)
        {
            lock (Viommu.Context.AttachLock)
            {
                Viommu.RemoveVdevice(this);
                if (ReferenceEquals(Device.Vdevice, this))
                    Device.Vdevice = null;
            }
        }
        Viommu.Context.Objects.RemoveUser(Viommu);
    }
}
