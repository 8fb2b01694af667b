using System.Diagnostics;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>
/// Devices: binding, attaching to an IOAS (reusing or creating an automatic HWPT) or to an HWPT,
/// replacing and detaching. Every attach decision runs under <see cref="_attachLock"/> (see
/// <see cref="LockOrder"/>); helpers named <c>…Locked</c> assert it.
/// </summary>
public sealed partial class IommufdContext
{
    private readonly Lock _attachLock = new();

    /// <summary>The attach lock, for the HWPT's own teardown (it leaves its IOAS's list).</summary>
    internal Lock AttachLock => _attachLock;

    /// <summary>Binds a device to this context: it gets an ID and can then attach.</summary>
    public Errno BindDevice(Device device, out DeviceId id)
    {
        var rc = Objects.Reserve(device).PublishNow(out _);
        id = rc == Errno.Ok ? device.TypedId : default;
        return rc;
    }

    /// <summary>IOMMU_GET_HW_INFO: what the device's driver reports (ENOENT for an unknown device, EOPNOTSUPP for an unknown type).</summary>
    public Errno GetHwInfo(DeviceId deviceId, uint requestedType, out HwInfo? info)
    {
        info = null;
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return device.Status;
        return device.Value.Driver.GetHwInfo(device.Value, requestedType, out info);
    }

    /// <summary>Detaches and removes a bound device (what a bus driver's unbind does).</summary>
    public Errno UnbindDevice(DeviceId id)
    {
        DetachAllPasids(id);
        var rc = DetachDevice(id);
        if (rc != Errno.Ok)
            return rc;
        return Objects.Destroy(id);
    }

    /// <summary>
    /// Attaches a device to <paramref name="ptId"/>: an HWPT is used as is; for an IOAS the first
    /// compatible automatic HWPT is reused, else a new one is created and filled. EBUSY when the
    /// device is already attached, ENOENT for unknown IDs, EINVAL for an object of another kind.
    /// </summary>
    public Errno AttachDevice(DeviceId deviceId, ObjectId ptId, out HwptId hwptId) =>
        ChangeAttachment(deviceId, ptId, device => device.Attached is null ? Errno.Ok : Errno.EBUSY,
            (Device device, IommufdObject pt, out Hwpt? hwpt) =>
            {
                hwpt = pt as Hwpt;
                return pt switch
                {
                    Hwpt h => AttachToHwptLocked(device, h),
                    Ioas ioas => AttachAutoLocked(device, ioas, out hwpt),
                    _ => Errno.EINVAL,
                };
            }, out hwptId);

    /// <summary>
    /// Moves an attached device (with its group) to another HWPT or IOAS without a window where
    /// its DMA is unmapped. EINVAL when not attached; replacing with the current HWPT is a no-op.
    /// </summary>
    public Errno ReplaceDevice(DeviceId deviceId, ObjectId ptId, out HwptId hwptId) =>
        ChangeAttachment(deviceId, ptId, device => device.Attached is null ? Errno.EINVAL : Errno.Ok,
            (Device device, IommufdObject pt, out Hwpt? target) =>
            {
                target = pt as Hwpt;
                var rc = pt switch
                {
                    Hwpt => Errno.Ok,
                    Ioas ioas => FindOrCreateAutoForReplaceLocked(device, ioas, out target),
                    _ => Errno.EINVAL,
                };
                return rc == Errno.Ok ? ReplaceLocked(device, device.Attached!, target!) : rc;
            }, out hwptId);

    private delegate Errno AttachmentChange(Device device, IommufdObject pt, out Hwpt? hwpt);

    /// <summary>
    /// What attach and replace share, in the kernel's order: the device is looked up (ENOENT), the
    /// attach lock taken, the device's state checked (<paramref name="check"/>), then the target
    /// (an HWPT or an IOAS) looked up (ENOENT) and the change made under the lock.
    /// </summary>
    private Errno ChangeAttachment(DeviceId deviceId, ObjectId ptId, Func<Device, Errno> check, AttachmentChange change, out HwptId hwptId)
    {
        hwptId = default;
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return device.Status;
        lock (_attachLock)
        {
            var rc = check(device.Value);
            if (rc != Errno.Ok)
                return rc;
            using var pt = Objects.Hold<IommufdObject>(ptId);
            if (!pt.Held)
                return pt.Status;
            rc = change(device.Value, pt.Value, out var hwpt);
            if (rc == Errno.Ok)
                hwptId = hwpt!.TypedId;
            return rc;
        }
    }

    /// <summary>Detaches a device; detaching one that is not attached does nothing.</summary>
    public Errno DetachDevice(DeviceId deviceId)
    {
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return device.Status;
        lock (_attachLock)
            DetachLocked(device.Value);
        return Errno.Ok;
    }

    /// <summary>Tries each automatic HWPT of the IOAS (EINVAL means "incompatible, next"), else makes one.</summary>
    private Errno AttachAutoLocked(Device device, Ioas ioas, out Hwpt? hwpt)
    {
        var rc = FindOrCreateAutoLocked(device, ioas, candidate => AttachToHwptLocked(device, candidate), attachNew: true, out var paging);
        hwpt = paging;
        return rc;
    }

    /// <summary>For replace: the device's own automatic HWPT, a compatible one, or a new filled one.</summary>
    private Errno FindOrCreateAutoForReplaceLocked(Device device, Ioas ioas, out Hwpt? hwpt)
    {
        var rc = FindOrCreateAutoLocked(device, ioas,
            candidate => ReferenceEquals(candidate, device.Attached) ? Errno.Ok : device.Driver.CheckAttach(device, candidate.Domain),
            attachNew: false, out var paging);
        hwpt = paging;
        return rc;
    }

    /// <summary>
    /// The auto-domain rule shared by attach and replace: the first automatic HWPT the device takes
    /// wins, EINVAL means "incompatible, try the next", any other error stops; else a new one.
    /// </summary>
    private Errno FindOrCreateAutoLocked(Device device, Ioas ioas, Func<HwptPaging, Errno> tryCandidate, bool attachNew, out HwptPaging? hwpt)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        hwpt = null;
        foreach (var candidate in ioas.Hwpts.Where(h => h.AutoDomain).ToList())
        {
            var rc = tryCandidate(candidate);
            if (rc == Errno.Ok)
                hwpt = candidate;
            if (rc != Errno.EINVAL)
                return rc;
        }
        var created = CreatePagingLocked(device, ioas, HwptAllocFlags.None, data: null, autoDomain: true, attachFirst: attachNew)
            .PublishNow(out var fresh);
        hwpt = (HwptPaging?)fresh;
        return created;
    }

    /// <summary>Attaches one device to an HWPT: driver compatibility, group rule, reserved regions.</summary>
    private Errno AttachToHwptLocked(Device device, Hwpt hwpt)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        if (device.Attached is not null)
            return Errno.EBUSY;
        var rc = CheckPasidCompatLocked(device, hwpt, NoPasid);
        if (rc == Errno.Ok)
            rc = device.Driver.CheckAttach(device, hwpt.AttachDomain);
        if (rc == Errno.Ok)
            rc = CheckViommuAttach(device, hwpt);
        if (rc != Errno.Ok)
            return rc;
        var group = device.Group;
        if (group.Hwpt is not null && !ReferenceEquals(group.Hwpt, hwpt))
            return Errno.EINVAL;
        rc = ReserveDeviceRegions(device, hwpt.Ioas);
        if (rc != Errno.Ok)
            return rc;
        device.Attached = hwpt;
        group.Attached.Add(device);
        group.Hwpt = hwpt;
        Objects.AddUser(hwpt);
        Objects.AddUser(device);
        return Errno.Ok;
    }

    private void UndoAttachLocked(Device device, Hwpt hwpt)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        hwpt.Fault?.AnswerLeftBehind(device.TypedId, hwpt);
        hwpt.Ioas.PageTable.Unreserve(device);
        device.Attached = null;
        device.Group.Attached.Remove(device);
        if (device.Group.Attached.Count == 0)
            device.Group.Hwpt = null;
        Objects.RemoveUser(hwpt);
        Objects.RemoveUser(device);
    }

    private void DetachLocked(Device device)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        if (device.Attached is not { } hwpt)
            return;
        UndoAttachLocked(device, hwpt);
        DestroyIfUnusedAuto(hwpt);
    }

    /// <summary>Moves the device's whole group from <paramref name="current"/> to <paramref name="target"/>.</summary>
    private Errno ReplaceLocked(Device device, Hwpt current, Hwpt target)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        if (ReferenceEquals(current, target))
            return Errno.Ok;
        var rc = CheckPasidCompatLocked(device, target, NoPasid);
        if (rc == Errno.Ok)
            rc = device.Driver.CheckAttach(device, target.AttachDomain);
        if (rc == Errno.Ok)
            rc = CheckViommuAttach(device, target);
        if (rc != Errno.Ok)
            return rc;
        var members = device.Group.Attached.ToList();
        if (!ReferenceEquals(current.Ioas, target.Ioas))
        {
            // Reserve in the new IOAS before releasing the old, so a failure changes nothing.
            foreach (var member in members)
            {
                rc = ReserveDeviceRegions(member, target.Ioas);
                if (rc != Errno.Ok)
                {
                    foreach (var undo in members)
                        target.Ioas.PageTable.Unreserve(undo);
                    return rc;
                }
            }
            foreach (var member in members)
                current.Ioas.PageTable.Unreserve(member);
        }
        foreach (var member in members)
        {
            member.Attached = target;
            Objects.AddUser(target);
            current.Fault?.AnswerLeftBehind(member.TypedId, current);
            Objects.RemoveUser(current);
        }
        device.Group.Hwpt = target;
        DestroyIfUnusedAuto(current);
        return Errno.Ok;
    }

    private Errno ReserveDeviceRegions(Device device, Ioas ioas)
    {
        foreach (var region in device.ReservedRegions)
        {
            var rc = ioas.PageTable.Reserve(region.Start, region.Last, device);
            if (rc != Errno.Ok)
            {
                ioas.PageTable.Unreserve(device);
                return rc;
            }
        }
        return Errno.Ok;
    }

    /// <summary>An automatic HWPT lives only as long as some device uses it.</summary>
    private void DestroyIfUnusedAuto(Hwpt hwpt)
    {
        if (hwpt is HwptPaging { AutoDomain: true } && Objects.UsersOf(hwpt) == 0)
            Objects.Destroy(hwpt.Id);
    }
}
