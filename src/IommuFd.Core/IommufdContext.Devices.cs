using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>
/// Devices and hardware page tables: binding, attaching to an IOAS (reusing or creating an
/// automatic HWPT) or to an HWPT, replacing, detaching, and explicit HWPT allocation.
/// Every attach decision runs under <see cref="_attachLock"/> (see <see cref="LockOrder"/>).
/// </summary>
public sealed partial class IommufdContext
{
    private readonly Lock _attachLock = new();

    /// <summary>Binds a device to this context: it gets an ID and can then attach.</summary>
    public Errno BindDevice(Device device, out DeviceId id)
    {
        id = default;
        var rc = Objects.Reserve(device);
        if (rc != Errno.Ok)
            return rc;
        Objects.Publish(device);
        id = device.TypedId;
        return Errno.Ok;
    }

    /// <summary>Detaches and removes a bound device (what a bus driver's unbind does).</summary>
    public Errno UnbindDevice(DeviceId id)
    {
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
    public Errno AttachDevice(DeviceId deviceId, ObjectId ptId, out HwptId hwptId)
    {
        hwptId = default;
        var rc = Objects.Hold(deviceId, out ObjectHold<Device> deviceHold);
        if (rc != Errno.Ok)
            return rc;
        using (deviceHold)
        lock (_attachLock)
        {
            var device = deviceHold.Value;
            if (device.Attached is not null)
                return Errno.EBUSY;
            rc = Objects.Hold(ptId, out ObjectHold<IommufdObject> ptHold);
            if (rc != Errno.Ok)
                return rc;
            using (ptHold)
            {
                Hwpt? hwpt = null;
                rc = ptHold.Value switch
                {
                    Hwpt h => AttachToHwptLocked(device, hwpt = h),
                    Ioas ioas => AttachAutoLocked(device, ioas, out hwpt),
                    _ => Errno.EINVAL,
                };
                if (rc == Errno.Ok)
                    hwptId = hwpt!.TypedId;
                return rc;
            }
        }
    }

    /// <summary>
    /// Moves an attached device (with its group) to another HWPT or IOAS without a window where
    /// its DMA is unmapped. EINVAL when not attached; replacing with the current HWPT is a no-op.
    /// </summary>
    public Errno ReplaceDevice(DeviceId deviceId, ObjectId ptId, out HwptId hwptId)
    {
        hwptId = default;
        var rc = Objects.Hold(deviceId, out ObjectHold<Device> deviceHold);
        if (rc != Errno.Ok)
            return rc;
        using (deviceHold)
        lock (_attachLock)
        {
            var device = deviceHold.Value;
            if (device.Attached is not { } current)
                return Errno.EINVAL;
            rc = Objects.Hold(ptId, out ObjectHold<IommufdObject> ptHold);
            if (rc != Errno.Ok)
                return rc;
            using (ptHold)
            {
                Hwpt? target = null;
                rc = ptHold.Value switch
                {
                    Hwpt h => Ok(target = h),
                    Ioas ioas => FindOrCreateAutoForReplaceLocked(device, ioas, out target),
                    _ => Errno.EINVAL,
                };
                if (rc != Errno.Ok)
                    return rc;
                rc = ReplaceLocked(device, current, target!);
                if (rc == Errno.Ok)
                    hwptId = target!.TypedId;
                return rc;
            }
        }
    }

    /// <summary>Detaches a device; detaching one that is not attached does nothing.</summary>
    public Errno DetachDevice(DeviceId deviceId)
    {
        var rc = Objects.Hold(deviceId, out ObjectHold<Device> deviceHold);
        if (rc != Errno.Ok)
            return rc;
        using (deviceHold)
        lock (_attachLock)
            DetachLocked(deviceHold.Value);
        return Errno.Ok;
    }

    /// <summary>
    /// IOMMU_HWPT_ALLOC. On an IOAS: a kernel-managed paging HWPT, filled from the IOAS, which
    /// narrows the IOAS at once. On a paging HWPT allocated with NEST_PARENT: a nested HWPT from
    /// the driver's <paramref name="data"/>. Validation follows the kernel: unknown device ENOENT,
    /// unknown pt EINVAL, unsupported flags EOPNOTSUPP, then the driver, then the fault queue
    /// (<paramref name="faultId"/>, with FAULT_ID_VALID; ENOENT when unknown).
    /// </summary>
    public Errno AllocHwpt(DeviceId deviceId, ObjectId ptId, HwptAllocFlags flags, IDriverData? data, out HwptId hwptId, FaultId faultId = default)
    {
        hwptId = default;
        var rc = Objects.Hold(deviceId, out ObjectHold<Device> deviceHold);
        if (rc != Errno.Ok)
            return rc;
        using (deviceHold)
        {
            var device = deviceHold.Value;
            if (Objects.Hold(ptId, out ObjectHold<IommufdObject> ptHold) != Errno.Ok)
                return Errno.EINVAL;
            using (ptHold)
            lock (_attachLock)
            {
                Hwpt hwpt;
                switch (ptHold.Value)
                {
                    case Ioas ioas:
                        rc = AllocPagingLocked(device, ioas, flags, data, out var paging);
                        hwpt = paging;
                        break;
                    case HwptPaging parent:
                        rc = AllocNestedLocked(device, parent, flags, data, out var nested);
                        hwpt = nested;
                        break;
                    default:
                        return Errno.EINVAL;
                }
                if (rc != Errno.Ok)
                    return rc;
                if (flags.HasFlag(HwptAllocFlags.FaultIdValid))
                {
                    rc = AttachFaultQueue(hwpt, faultId);
                    if (rc != Errno.Ok)
                    {
                        Objects.Abort(hwpt);
                        hwpt.OnDestroy();
                        return rc;
                    }
                }
                Objects.Publish(hwpt);
                hwptId = hwpt.TypedId;
                return Errno.Ok;
            }
        }
    }

    private Errno AllocPagingLocked(Device device, Ioas ioas, HwptAllocFlags flags, IDriverData? data, out HwptPaging hwpt)
    {
        hwpt = null!;
        if ((flags & ~HwptAllocFlags.Known) != 0)
            return Errno.EOPNOTSUPP;
        if (flags.HasFlag(HwptAllocFlags.DirtyTracking) && !device.Driver.SupportsDirtyTracking(device))
            return Errno.EOPNOTSUPP;
        if (flags.HasFlag(HwptAllocFlags.FaultIdValid) && flags.HasFlag(HwptAllocFlags.NestParent))
            return Errno.EOPNOTSUPP;
        return CreateHwptLocked(device, ioas, flags & ~HwptAllocFlags.FaultIdValid, data, autoDomain: false, attachFirst: false, out hwpt);
    }

    /// <summary>A nested HWPT (ID reserved, not published) holding its parent.</summary>
    private Errno AllocNestedLocked(Device device, HwptPaging parent, HwptAllocFlags flags, IDriverData? data, out HwptNested hwpt)
    {
        hwpt = null!;
        if ((flags & ~(HwptAllocFlags.FaultIdValid | HwptAllocFlags.Pasid)) != 0 || data is null)
            return Errno.EOPNOTSUPP;
        if (parent.AutoDomain || !parent.NestParent || !ReferenceEquals(parent.Driver, device.Driver))
            return Errno.EINVAL;
        var rc = device.Driver.AllocateNestedDomain(device, parent.Domain, flags & ~HwptAllocFlags.FaultIdValid, data, out var domain);
        if (rc != Errno.Ok)
            return rc;
        var created = new HwptNested(parent, domain);
        rc = Objects.Reserve(created);
        if (rc != Errno.Ok)
            return rc;
        Objects.AddUser(parent);
        created.Teardown = () => Objects.RemoveUser(parent);
        hwpt = created;
        return Errno.Ok;
    }

    /// <summary>Page requests of devices attached to <paramref name="hwpt"/> go to the queue, which it then holds.</summary>
    private Errno AttachFaultQueue(Hwpt hwpt, FaultId faultId)
    {
        if (Objects.TryHold<Faults.FaultQueue>(faultId, out var fault) != Errno.Ok)
            return Errno.ENOENT;
        Objects.AddUser(fault);
        Objects.Release(fault);
        hwpt.Fault = fault;
        var inner = hwpt.Teardown;
        hwpt.Teardown = () =>
        {
            inner?.Invoke();
            Objects.RemoveUser(fault);
        };
        return Errno.Ok;
    }

    private static Errno Ok(Hwpt _) => Errno.Ok;

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
        hwpt = null;
        foreach (var candidate in ioas.Hwpts.Where(h => h.AutoDomain).ToList())
        {
            var rc = tryCandidate(candidate);
            if (rc == Errno.Ok)
                hwpt = candidate;
            if (rc != Errno.EINVAL)
                return rc;
        }
        var created = CreateHwptLocked(device, ioas, HwptAllocFlags.None, data: null, autoDomain: true, attachFirst: attachNew, out var fresh);
        if (created != Errno.Ok)
            return created;
        Objects.Publish(fresh);
        hwpt = fresh;
        return Errno.Ok;
    }

    /// <summary>
    /// Allocates a domain and its HWPT (ID reserved, not yet published), fills it from the IOAS
    /// and, for an attach, attaches the device first. On failure nothing remains.
    /// </summary>
    private Errno CreateHwptLocked(Device device, Ioas ioas, HwptAllocFlags flags, IDriverData? data, bool autoDomain, bool attachFirst, out HwptPaging hwpt)
    {
        hwpt = null!;
        var rc = device.Driver.AllocatePagingDomain(device, flags, data, out var domain);
        if (rc != Errno.Ok)
            return rc;
        var created = new HwptPaging(ioas, domain, device.Driver, flags, autoDomain);
        rc = Objects.Reserve(created);
        if (rc != Errno.Ok)
            return rc;
        if (attachFirst)
        {
            rc = AttachToHwptLocked(device, created);
            if (rc != Errno.Ok)
            {
                Objects.Abort(created);
                return rc;
            }
        }
        rc = ioas.PageTable.AddDomain(domain);
        if (rc != Errno.Ok)
        {
            if (attachFirst)
                UndoAttachLocked(device, created);
            Objects.Abort(created);
            return rc;
        }
        Objects.AddUser(ioas);
        ioas.Hwpts.Add(created);
        created.Teardown = () =>
        {
            lock (_attachLock)
                ioas.Hwpts.Remove(created);
            ioas.PageTable.RemoveDomain(domain);
            Objects.RemoveUser(ioas);
        };
        hwpt = created;
        return Errno.Ok;
    }

    /// <summary>Attaches one device to an HWPT: driver compatibility, group rule, reserved regions.</summary>
    private Errno AttachToHwptLocked(Device device, Hwpt hwpt)
    {
        if (device.Attached is not null)
            return Errno.EBUSY;
        var rc = device.Driver.CheckAttach(device, hwpt.AttachDomain);
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
        if (device.Attached is not { } hwpt)
            return;
        UndoAttachLocked(device, hwpt);
        DestroyIfUnusedAuto(hwpt);
    }

    /// <summary>Moves the device's whole group from <paramref name="current"/> to <paramref name="target"/>.</summary>
    private Errno ReplaceLocked(Device device, Hwpt current, Hwpt target)
    {
        if (ReferenceEquals(current, target))
            return Errno.Ok;
        var rc = device.Driver.CheckAttach(device, target.AttachDomain);
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
