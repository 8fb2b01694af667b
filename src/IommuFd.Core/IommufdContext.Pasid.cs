using System.Diagnostics;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>
/// PASID attachments: a device's DMA tagged with a PASID goes to the HWPT attached at that PASID,
/// independently of its RID attachment (<see cref="Device.Attached"/>). The kernel's rules
/// (drivers/iommu/iommufd/device.c): PASID 0 is the RID; only a PASID-compatible HWPT (allocated
/// with IOMMU_HWPT_ALLOC_PASID) attaches to a PASID, and only while the RID's HWPT, if any, is
/// one too; an IOAS cannot be attached to a PASID, as the automatic HWPT it would get is never
/// PASID-compatible; a PASID past the device's width (none without PASID support) is EINVAL.
/// Kept per device (the kernel keeps them per group; a mock device is its own group). All under
/// <see cref="_attachLock"/>.
/// </summary>
public sealed partial class IommufdContext
{
    /// <summary>The PASID meaning "no PASID": the RID's attachment.</summary>
    public const uint NoPasid = 0;

    private readonly Dictionary<Device, Dictionary<uint, Hwpt>> _pasidAttachments = [];

    /// <summary>
    /// Attaches <paramref name="pasid"/> of a device to HWPT <paramref name="ptId"/> (PASID 0: the
    /// RID, as <see cref="AttachDevice"/>). ENOENT for unknown IDs, EBUSY when that PASID is
    /// attached already, EINVAL for an IOAS, another kind of object, an HWPT that is not
    /// PASID-compatible or a RID on one that is not, or a PASID the device does not have.
    /// </summary>
    public Errno AttachDevicePasid(DeviceId deviceId, uint pasid, ObjectId ptId)
    {
        if (pasid == NoPasid)
            return AttachDevice(deviceId, ptId, out _);
        return ChangePasid(deviceId, pasid, ptId, (device, hwpt) =>
        {
            if (PasidHwptLocked(device, pasid) is not null)
                return Errno.EBUSY;
            return SetPasidLocked(device, pasid, hwpt, current: null);
        });
    }

    /// <summary>
    /// Moves an attached PASID to another HWPT with no window without translation. EINVAL when the
    /// PASID is not attached, then the attach rules; the same HWPT is a no-op; when the driver
    /// refuses, the old HWPT stays.
    /// </summary>
    public Errno ReplaceDevicePasid(DeviceId deviceId, uint pasid, ObjectId ptId)
    {
        if (pasid == NoPasid)
            return ReplaceDevice(deviceId, ptId, out _);
        return ChangePasid(deviceId, pasid, ptId, (device, hwpt) =>
        {
            if (PasidHwptLocked(device, pasid) is not { } current)
                return Errno.EINVAL;
            return ReferenceEquals(current, hwpt) ? Errno.Ok : SetPasidLocked(device, pasid, hwpt, current);
        });
    }

    /// <summary>Detaches a PASID (PASID 0: the RID); detaching one that is not attached does nothing.</summary>
    public Errno DetachDevicePasid(DeviceId deviceId, uint pasid)
    {
        if (pasid == NoPasid)
            return DetachDevice(deviceId);
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return device.Status;
        lock (_attachLock)
            DetachPasidLocked(device.Value, pasid);
        return Errno.Ok;
    }

    /// <summary>The HWPT a PASID of the device is attached to (PASID 0: the RID's), or null when none.</summary>
    public Errno GetPasidHwpt(DeviceId deviceId, uint pasid, out HwptId? hwptId)
    {
        hwptId = null;
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return device.Status;
        lock (_attachLock)
            hwptId = (pasid == NoPasid ? device.Value.Attached : PasidHwptLocked(device.Value, pasid))?.TypedId;
        return Errno.Ok;
    }

    /// <summary>Detaches every PASID of a device leaving the context (unbind, unplug, close).</summary>
    internal void DetachAllPasids(DeviceId deviceId)
    {
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return;
        lock (_attachLock)
            if (_pasidAttachments.TryGetValue(device.Value, out var attached))
                foreach (var pasid in attached.Keys.ToList())
                    DetachPasidLocked(device.Value, pasid);
    }

    /// <summary>
    /// The PASID side of the kernel's compatibility rule, for an attach or replace of
    /// <paramref name="pasid"/> to <paramref name="hwpt"/> (PASID 0: the RID's).
    /// </summary>
    private Errno CheckPasidCompatLocked(Device device, Hwpt hwpt, uint pasid)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        if (pasid == NoPasid)
            return !hwpt.PasidCompatible && _pasidAttachments.ContainsKey(device) ? Errno.EINVAL : Errno.Ok;
        if (!hwpt.PasidCompatible || device.Attached is { PasidCompatible: false })
            return Errno.EINVAL;
        return pasid < 1UL << MaxPasidLog2(device) ? Errno.Ok : Errno.EINVAL;
    }

    private static int MaxPasidLog2(Device device) =>
        device.Driver.GetHwInfo(device, 0, out var info) == Errno.Ok ? info.MaxPasidLog2 : 0;

    private Hwpt? PasidHwptLocked(Device device, uint pasid)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        return _pasidAttachments.TryGetValue(device, out var attached) ? attached.GetValueOrDefault(pasid) : null;
    }

    /// <summary>The device is looked up (ENOENT), then the target (ENOENT); an IOAS or another kind of object is EINVAL.</summary>
    private Errno ChangePasid(DeviceId deviceId, uint pasid, ObjectId ptId, Func<Device, Hwpt, Errno> change)
    {
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return device.Status;
        using var pt = Objects.Hold<IommufdObject>(ptId);
        if (!pt.Held)
            return pt.Status;
        if (pt.Value is not Hwpt hwpt)
            return Errno.EINVAL;
        lock (_attachLock)
            return change(device.Value, hwpt);
    }

    /// <summary>Checks the rules, asks the driver, then records: <paramref name="current"/> (if any) is left.</summary>
    private Errno SetPasidLocked(Device device, uint pasid, Hwpt hwpt, Hwpt? current)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        var rc = CheckPasidCompatLocked(device, hwpt, pasid);
        if (rc == Errno.Ok)
            rc = device.Driver.CheckAttach(device, hwpt.AttachDomain);
        if (rc == Errno.Ok)
            rc = device.Driver.SetPasidDomain(device, pasid, hwpt.AttachDomain);
        if (rc != Errno.Ok)
            return rc;
        if (!_pasidAttachments.TryGetValue(device, out var attached))
            _pasidAttachments[device] = attached = [];
        attached[pasid] = hwpt;
        Objects.AddUser(hwpt);
        if (current is not null)
            LeavePasidLocked(device, current);
        else
            Objects.AddUser(device); // as for the RID: an attached device cannot be destroyed
        return Errno.Ok;
    }

    private void DetachPasidLocked(Device device, uint pasid)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        if (PasidHwptLocked(device, pasid) is not { } hwpt)
            return;
        device.Driver.SetPasidDomain(device, pasid, null);
        var attached = _pasidAttachments[device];
        attached.Remove(pasid);
        if (attached.Count == 0)
            _pasidAttachments.Remove(device);
        LeavePasidLocked(device, hwpt);
        Objects.RemoveUser(device);
    }

    /// <summary>Page requests still waiting on the HWPT it left are answered, and it loses a user.</summary>
    private void LeavePasidLocked(Device device, Hwpt hwpt)
    {
        hwpt.Fault?.AnswerLeftBehind(device.TypedId, hwpt);
        Objects.RemoveUser(hwpt);
    }

    /// <summary>Where a page request of the device goes: the HWPT at its PASID, else the RID's.</summary>
    private Hwpt? HwptForRequestLocked(Device device, Faults.PageRequest request) =>
        request.Flags.HasFlag(Faults.PageRequestFlags.PasidValid) && PasidHwptLocked(device, request.Pasid) is { } hwpt
            ? hwpt
            : device.Attached;

    // ---- the self-test's PASID ops name the device by its self-test handle ----

    public Errno AttachMockPasid(ObjectId selftestId, uint pasid, ObjectId ptId) =>
        WithMockDevice(selftestId, device => AttachDevicePasid(device, pasid, ptId));

    public Errno ReplaceMockPasid(ObjectId selftestId, uint pasid, ObjectId ptId) =>
        WithMockDevice(selftestId, device => ReplaceDevicePasid(device, pasid, ptId));

    public Errno DetachMockPasid(ObjectId selftestId, uint pasid) =>
        WithMockDevice(selftestId, device => DetachDevicePasid(device, pasid));

    /// <summary>
    /// PASID_CHECK_HWPT: <paramref name="hwptId"/> 0 asks that nothing is attached at the PASID,
    /// another that exactly that HWPT is (ENOENT when it does not exist); EINVAL otherwise.
    /// </summary>
    public Errno CheckMockPasidHwpt(ObjectId selftestId, uint pasid, ObjectId hwptId) =>
        WithMockDevice(selftestId, device =>
        {
            var rc = GetPasidHwpt(device, pasid, out var attached);
            if (rc != Errno.Ok)
                return rc;
            if (hwptId.Value == 0)
                return attached is null ? Errno.Ok : Errno.EINVAL;
            using var hwpt = Objects.Hold<Hwpt>(hwptId);
            if (!hwpt.Held)
                return hwpt.Status;
            return attached == hwpt.Value.TypedId ? Errno.Ok : Errno.EINVAL;
        });

    private Errno WithMockDevice(ObjectId selftestId, Func<DeviceId, Errno> action)
    {
        DeviceId device;
        using (var selftest = Objects.Hold<SelftestDevice>(selftestId))
        {
            if (!selftest.Held)
                return selftest.Status;
            device = selftest.Value.Device.TypedId;
        }
        return action(device);
    }
}
