using System.Buffers.Binary;
using IommuFd.Core.AddressSpace;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Objects;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core;

/// <summary>
/// vIOMMUs and what lives on them: virtual devices, event queues and invalidation by virtual ID.
/// Validation follows the kernel's order (drivers/iommu/iommufd/viommu.c, eventq.c); the code is ours.
/// </summary>
public sealed partial class IommufdContext
{
    /// <summary>Like <see cref="BeginAllocViommu"/>, published at once.</summary>
    public Errno AllocViommu(DeviceId deviceId, ObjectId hwptId, uint type, IDriverData? data, out Viommu? viommu)
    {
        using var pending = BeginAllocViommu(deviceId, hwptId, type, data);
        return pending.PublishNow(out viommu);
    }

    /// <summary>
    /// IOMMU_VIOMMU_ALLOC of <paramref name="type"/> for <paramref name="deviceId"/> over the
    /// nesting parent <paramref name="hwptId"/>, pending until published. Type 0 (DEFAULT) is
    /// EOPNOTSUPP before any look-up; an unknown device ENOENT; a type the device's driver does
    /// not offer EOPNOTSUPP; then an unknown or non-paging HWPT ENOENT, one without NEST_PARENT
    /// EINVAL; then the driver reads <paramref name="data"/>.
    /// </summary>
    public PendingObject<Viommu> BeginAllocViommu(DeviceId deviceId, ObjectId hwptId, uint type, IDriverData? data)
    {
        if (type == 0)
            return new PendingObject<Viommu>(Errno.EOPNOTSUPP);
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return new PendingObject<Viommu>(device.Status);
        if (device.Value.Driver.Viommu is not { } driver || !driver.SupportsViommuType(device.Value, type))
            return new PendingObject<Viommu>(Errno.EOPNOTSUPP);
        using var parent = Objects.Hold<HwptPaging>(hwptId);
        if (!parent.Held)
            return new PendingObject<Viommu>(parent.Status);
        if (!parent.Value.NestParent || !ReferenceEquals(parent.Value.Driver, device.Value.Driver))
            return new PendingObject<Viommu>(Errno.EINVAL);
        var rc = driver.AllocateViommu(device.Value, type, parent.Value.Domain, data, out var instance);
        if (rc != Errno.Ok)
            return new PendingObject<Viommu>(rc);
        return Objects.Reserve(new Viommu(this, parent.Value, type, instance));
    }

    /// <summary>The mmap region a vIOMMU of this context offers at exactly (<paramref name="offset"/>, <paramref name="length"/>): ENXIO otherwise.</summary>
    public Errno FindViommuMmap(ulong offset, ulong length, out ViommuMmapRegion? region)
    {
        region = FindMmapOwner(offset, length)?.Instance.Mmap;
        return region is null ? Errno.ENXIO : Errno.Ok;
    }

    /// <summary>
    /// mmap of the iommufd fd: the region a vIOMMU offers at exactly (<paramref name="offset"/>,
    /// <paramref name="length"/>), ENXIO for any other offset or length. The vIOMMU is in use
    /// (DESTROY is EBUSY) until the mapping is disposed (munmap).
    /// </summary>
    public Errno MapViommuRegion(ulong offset, ulong length, out ViommuMapping? mapping)
    {
        mapping = null;
        if (FindMmapOwner(offset, length) is not { } owner)
            return Errno.ENXIO;
        using var viommu = Objects.Hold<Viommu>(owner.Id);
        if (!viommu.Held || !ReferenceEquals(viommu.Value, owner))
            return Errno.ENXIO;
        Objects.AddUser(owner);
        mapping = new ViommuMapping(owner, owner.Instance.Mmap!);
        return Errno.Ok;
    }

    private Viommu? FindMmapOwner(ulong offset, ulong length)
    {
        foreach (var obj in Objects.Snapshot())
        {
            if (obj is Viommu { Instance.Mmap: { } found } viommu && found.Offset == offset && (ulong)found.Contents.Length == length)
                return viommu;
        }
        return null;
    }

    /// <summary>Like <see cref="BeginAllocVdevice"/>, published at once.</summary>
    public Errno AllocVdevice(ObjectId viommuId, DeviceId deviceId, ulong virtualId, out Vdevice? vdevice)
    {
        using var pending = BeginAllocVdevice(viommuId, deviceId, virtualId);
        return pending.PublishNow(out vdevice);
    }

    /// <summary>
    /// IOMMU_VDEVICE_ALLOC: <paramref name="deviceId"/> as the guest's <paramref name="virtualId"/>
    /// behind <paramref name="viommuId"/>. The vIOMMU is looked up first, then the device (ENOENT);
    /// a device of another IOMMU is EINVAL; a device that has a vDEVICE, or a virtual ID taken on
    /// this vIOMMU, is EEXIST.
    /// </summary>
    public PendingObject<Vdevice> BeginAllocVdevice(ObjectId viommuId, DeviceId deviceId, ulong virtualId)
    {
        using var viommu = Objects.Hold<Viommu>(viommuId);
        if (!viommu.Held)
            return new PendingObject<Vdevice>(viommu.Status);
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return new PendingObject<Vdevice>(device.Status);
        if (!ReferenceEquals(device.Value.Driver, viommu.Value.Parent.Driver))
            return new PendingObject<Vdevice>(Errno.EINVAL);
        lock (_attachLock)
        {
            if (device.Value.Vdevice is not null)
                return new PendingObject<Vdevice>(Errno.EEXIST);
            var pending = Objects.Reserve(new Vdevice(viommu.Value, device.Value, virtualId));
            if (!pending.Reserved)
                return pending;
            var rc = pending.Value.Join();
            if (rc == Errno.Ok)
                return pending;
            pending.Dispose();
            return new PendingObject<Vdevice>(rc);
        }
    }

    /// <summary>
    /// IOMMU_VEVENTQ_ALLOC, pending until published: the queue of <paramref name="type"/> events of
    /// a vIOMMU, holding at most <paramref name="depth"/>, and a descriptor in <paramref name="files"/>
    /// it is read from. Type 0 is EOPNOTSUPP, depth 0 EINVAL (both before the look-up); an unknown
    /// vIOMMU ENOENT; a second queue of the same type EEXIST. The fd uses the queue (DESTROY is
    /// EBUSY until it is closed); aborting closes the fd the caller never learnt of.
    /// </summary>
    public PendingObject<Veventq> BeginAllocVeventq(ObjectId viommuId, uint type, uint depth, IObjectFiles files, Func<Veventq, object> fileFor, out int fd)
    {
        fd = -1;
        if (type == 0)
            return new PendingObject<Veventq>(Errno.EOPNOTSUPP);
        if (depth == 0)
            return new PendingObject<Veventq>(Errno.EINVAL);
        using var viommu = Objects.Hold<Viommu>(viommuId);
        if (!viommu.Held)
            return new PendingObject<Veventq>(viommu.Status);
        if (viommu.Value.FindVeventq(type) is not null)
            return new PendingObject<Veventq>(Errno.EEXIST);
        var pending = Objects.Reserve(new Veventq(viommu.Value, type, depth));
        if (!pending.Reserved)
            return pending;
        var queue = pending.Value;
        if (!viommu.Value.TryAddVeventq(queue))
        {
            pending.Dispose();
            return new PendingObject<Veventq>(Errno.EEXIST);
        }
        queue.Registered = true;
        var file = fileFor(queue);
        Objects.AddUser(queue);
        queue.ReadableChanged = readable => files.SetReadable(file, readable);
        var rc = files.OpenFile(file, () => Objects.RemoveUser(queue), out fd);
        if (rc == Errno.Ok)
        {
            queue.File = (files, fd);
            return pending;
        }
        Objects.RemoveUser(queue);
        pending.Dispose();
        return new PendingObject<Veventq>(rc);
    }

    /// <summary>
    /// A vIOMMU reports an event of <paramref name="type"/> about <paramref name="deviceId"/>:
    /// the device must be attached to a nested HWPT of a vIOMMU and have its vDEVICE there
    /// (ENOENT otherwise); EOPNOTSUPP when that vIOMMU has no queue of the type.
    /// <paramref name="payload"/> makes the event from the vDEVICE (typically its virtual ID).
    /// </summary>
    public Errno ReportViommuEvent(DeviceId deviceId, uint type, Func<Vdevice, byte[]> payload)
    {
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return device.Status;
        Vdevice vdevice;
        lock (_attachLock)
        {
            if (device.Value.Attached is not HwptNested { Viommu: { } viommu } ||
                device.Value.Vdevice is not { } found || !ReferenceEquals(found.Viommu, viommu))
                return Errno.ENOENT;
            vdevice = found;
        }
        if (vdevice.Viommu.FindVeventq(type) is not { } queue)
            return Errno.EOPNOTSUPP;
        queue.Report(payload(vdevice));
        return Errno.Ok;
    }

    /// <summary>The self-test's TRIGGER_VEVENT: a selftest-type event carrying the device's virtual ID (u32).</summary>
    public Errno TriggerMockVevent(DeviceId deviceId) =>
        ReportViommuEvent(deviceId, Drivers.Mock.MockViommuDriver.VeventqTypeSelftest, vdevice =>
        {
            var data = new byte[4];
            BinaryPrimitives.WriteUInt32LittleEndian(data, (uint)vdevice.VirtualId);
            return data;
        });

    /// <summary>Like <see cref="BeginAllocHwQueue"/>, published at once.</summary>
    public Errno AllocHwQueue(ObjectId viommuId, uint type, uint index, ulong iova, ulong length, out HwQueue? queue)
    {
        using var pending = BeginAllocHwQueue(viommuId, type, index, iova, length);
        return pending.PublishNow(out queue);
    }

    /// <summary>
    /// IOMMU_HW_QUEUE_ALLOC: a queue of <paramref name="type"/> at the nesting parent's
    /// [<paramref name="iova"/>, +<paramref name="length"/>). Type 0 is EOPNOTSUPP, length 0
    /// EINVAL, a range past 2^64 EOVERFLOW (all before the look-up); an unknown vIOMMU ENOENT; a
    /// type it does not offer EOPNOTSUPP; then the CPU pages under the range are pinned and locked
    /// (ENOENT for a hole); then the driver's own rules for <paramref name="index"/>.
    /// </summary>
    public PendingObject<HwQueue> BeginAllocHwQueue(ObjectId viommuId, uint type, uint index, ulong iova, ulong length)
    {
        if (type == 0)
            return new PendingObject<HwQueue>(Errno.EOPNOTSUPP);
        if (length == 0)
            return new PendingObject<HwQueue>(Errno.EINVAL);
        if (iova > ulong.MaxValue - (length - 1))
            return new PendingObject<HwQueue>(Errno.EOVERFLOW);
        using var viommu = Objects.Hold<Viommu>(viommuId);
        if (!viommu.Held)
            return new PendingObject<HwQueue>(viommu.Status);
        if (!viommu.Value.Instance.SupportsHwQueueType(type))
            return new PendingObject<HwQueue>(Errno.EOPNOTSUPP);
        var pending = Objects.Reserve(new HwQueue(viommu.Value, type, iova, length));
        if (!pending.Reserved)
            return pending;
        // Whole CPU pages: from the page holding iova to the one holding its last byte.
        var first = iova & ~CpuPage.Mask;
        var last = iova + (length - 1);
        var pinLength = (last | CpuPage.Mask) - first + 1;
        AccessPin? pin = null;
        var rc = pinLength == 0 ? Errno.ERANGE
            : viommu.Value.Parent.Ioas.PageTable.PinForAccess(first, pinLength, write: false, locked: true, out pin);
        if (rc == Errno.Ok)
        {
            pending.Value.Pin = pin;
            rc = pending.Value.Claim(index);
        }
        if (rc == Errno.Ok)
            return pending;
        pending.Dispose();
        return new PendingObject<HwQueue>(rc);
    }

    /// <summary>A nested HWPT of a vIOMMU takes a device only through its vDEVICE on that vIOMMU (ENOENT otherwise).</summary>
    private static Errno CheckViommuAttach(Device device, Hwpt hwpt) =>
        hwpt is HwptNested { Viommu: { } viommu } && !ReferenceEquals(device.Vdevice?.Viommu, viommu) ? Errno.ENOENT : Errno.Ok;

    /// <summary>The device left, so its vDEVICE dies with it; the vDEVICE's ID stays taken (a tombstone).</summary>
    internal void TombstoneVdevice(Vdevice vdevice) => Objects.Tombstone(vdevice);
}
