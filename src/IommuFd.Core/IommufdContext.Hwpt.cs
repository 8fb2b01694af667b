using System.Diagnostics;
using IommuFd.Core.Devices;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Objects;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Core;

/// <summary>
/// Allocating hardware page tables: explicitly (IOMMU_HWPT_ALLOC, paging or nested) and the
/// automatic ones an attach to an IOAS creates. Each comes back pending; its own destroy step
/// (<see cref="HwptPaging"/>, <see cref="HwptNested"/>) releases what it acquired.
/// </summary>
public sealed partial class IommufdContext
{
    /// <summary>Like <see cref="BeginAllocHwpt"/>, published at once: for callers with nothing left to report.</summary>
    public Errno AllocHwpt(DeviceId deviceId, ObjectId ptId, HwptAllocFlags flags, IDriverData? data, out HwptId hwptId, FaultId faultId = default)
    {
        using var pending = BeginAllocHwpt(deviceId, ptId, flags, data, faultId);
        var rc = pending.PublishNow(out var hwpt);
        hwptId = hwpt?.TypedId ?? default;
        return rc;
    }

    /// <summary>
    /// IOMMU_HWPT_ALLOC, pending until published. On an IOAS: a kernel-managed paging HWPT, filled
    /// from the IOAS, which narrows the IOAS at once. On a paging HWPT allocated with NEST_PARENT: a
    /// nested HWPT from the driver's <paramref name="data"/>. Validation follows the kernel: unknown
    /// device ENOENT, unknown pt EINVAL, unsupported flags EOPNOTSUPP, then the driver, then the
    /// fault queue (<paramref name="faultId"/>, with FAULT_ID_VALID; ENOENT when unknown).
    /// </summary>
    public PendingObject<Hwpt> BeginAllocHwpt(DeviceId deviceId, ObjectId ptId, HwptAllocFlags flags, IDriverData? data, FaultId faultId = default)
    {
        using var device = Objects.Hold<Device>(deviceId);
        if (!device.Held)
            return new PendingObject<Hwpt>(device.Status);
        using var pt = Objects.Hold<IommufdObject>(ptId);
        if (!pt.Held)
            return new PendingObject<Hwpt>(Errno.EINVAL);
        lock (_attachLock)
        {
            var hwpt = pt.Value switch
            {
                Ioas ioas => AllocPagingLocked(device.Value, ioas, flags, data),
                HwptPaging parent => AllocNestedLocked(device.Value, parent, flags, data),
                Viommu viommu => AllocNestedOnViommuLocked(device.Value, viommu, flags, data),
                _ => new PendingObject<Hwpt>(Errno.EINVAL),
            };
            if (hwpt.Reserved && flags.HasFlag(HwptAllocFlags.FaultIdValid))
            {
                var rc = hwpt.Value.UseFaultQueue(faultId);
                if (rc != Errno.Ok)
                {
                    hwpt.Dispose();
                    return new PendingObject<Hwpt>(rc);
                }
            }
            return hwpt;
        }
    }

    private PendingObject<Hwpt> AllocPagingLocked(Device device, Ioas ioas, HwptAllocFlags flags, IDriverData? data)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        if ((flags & ~HwptAllocFlags.Known) != 0)
            return new PendingObject<Hwpt>(Errno.EOPNOTSUPP);
        if (flags.HasFlag(HwptAllocFlags.DirtyTracking) && !device.Driver.SupportsDirtyTracking(device))
            return new PendingObject<Hwpt>(Errno.EOPNOTSUPP);
        if (flags.HasFlag(HwptAllocFlags.FaultIdValid) && flags.HasFlag(HwptAllocFlags.NestParent))
            return new PendingObject<Hwpt>(Errno.EOPNOTSUPP);
        return CreatePagingLocked(device, ioas, flags & ~HwptAllocFlags.FaultIdValid, data, autoDomain: false, attachFirst: false);
    }

    private PendingObject<Hwpt> AllocNestedLocked(Device device, HwptPaging parent, HwptAllocFlags flags, IDriverData? data)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        if ((flags & ~(HwptAllocFlags.FaultIdValid | HwptAllocFlags.Pasid)) != 0 || data is null)
            return new PendingObject<Hwpt>(Errno.EOPNOTSUPP);
        if (parent.AutoDomain || !parent.NestParent || !ReferenceEquals(parent.Driver, device.Driver))
            return new PendingObject<Hwpt>(Errno.EINVAL);
        INestedDomain domain = null!;
        var rc = FailNth.Check(FaultSite.DomainAlloc);
        if (rc == Errno.Ok)
            rc = device.Driver.AllocateNestedDomain(device, parent.Domain, flags & ~HwptAllocFlags.FaultIdValid, data, out domain);
        if (rc != Errno.Ok)
            return new PendingObject<Hwpt>(rc);
        return Objects.Reserve<Hwpt>(new HwptNested(this, parent, domain) { PasidCompatible = flags.HasFlag(HwptAllocFlags.Pasid) });
    }

    /// <summary>A nested HWPT made by a vIOMMU's driver: flags other than FAULT_ID_VALID and PASID, or no data, are EOPNOTSUPP.</summary>
    private PendingObject<Hwpt> AllocNestedOnViommuLocked(Device device, Viommu viommu, HwptAllocFlags flags, IDriverData? data)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        if ((flags & ~(HwptAllocFlags.FaultIdValid | HwptAllocFlags.Pasid)) != 0 || data is null)
            return new PendingObject<Hwpt>(Errno.EOPNOTSUPP);
        if (!ReferenceEquals(viommu.Parent.Driver, device.Driver))
            return new PendingObject<Hwpt>(Errno.EINVAL);
        INestedDomain domain = null!;
        var rc = FailNth.Check(FaultSite.DomainAlloc);
        if (rc == Errno.Ok)
            rc = viommu.Instance.AllocateNestedDomain(flags & ~HwptAllocFlags.FaultIdValid, data, out domain);
        if (rc != Errno.Ok)
            return new PendingObject<Hwpt>(rc);
        return Objects.Reserve<Hwpt>(new HwptNested(this, viommu.Parent, domain, viommu) { PasidCompatible = flags.HasFlag(HwptAllocFlags.Pasid) });
    }

    /// <summary>
    /// Allocates a domain and its paging HWPT, fills it from the IOAS and, for an attach, attaches
    /// the device first (an automatic HWPT must accept the device that makes it). On failure nothing remains.
    /// </summary>
    private PendingObject<Hwpt> CreatePagingLocked(Device device, Ioas ioas, HwptAllocFlags flags, IDriverData? data, bool autoDomain, bool attachFirst)
    {
        Debug.Assert(_attachLock.IsHeldByCurrentThread);
        IIoDomain domain = null!;
        var rc = FailNth.Check(FaultSite.DomainAlloc);
        if (rc == Errno.Ok)
            rc = device.Driver.AllocatePagingDomain(device, flags, data, out domain);
        if (rc != Errno.Ok)
            return new PendingObject<Hwpt>(rc);
        var hwpt = new HwptPaging(this, ioas, domain, device.Driver, flags, autoDomain) { PasidCompatible = flags.HasFlag(HwptAllocFlags.Pasid) };
        var pending = Objects.Reserve<Hwpt>(hwpt);
        if (!pending.Reserved)
            return pending;
        rc = attachFirst ? AttachToHwptLocked(device, hwpt) : Errno.Ok;
        if (rc == Errno.Ok)
        {
            rc = hwpt.MirrorIoasLocked();
            if (rc != Errno.Ok && attachFirst)
                UndoAttachLocked(device, hwpt);
        }
        if (rc == Errno.Ok)
            return pending;
        pending.Dispose();
        return new PendingObject<Hwpt>(rc);
    }

    /// <summary>
    /// IOMMU_HWPT_INVALIDATE: hands the driver's requests to a nested HWPT's cache; only nested HWPTs
    /// and vIOMMUs (requests naming devices by virtual ID) have one. ENOENT when unknown, EINVAL for another kind.
    /// <paramref name="handled"/> counts the requests done, even on failure.
    /// </summary>
    public Errno InvalidateHwpt(ObjectId hwptId, IDriverArray requests, out uint handled)
    {
        handled = 0;
        using var target = Objects.Hold<IommufdObject>(hwptId);
        if (!target.Held)
            return target.Status;
        return target.Value switch
        {
            HwptNested nested => nested.Domain.Invalidate(requests, out handled),
            Viommu viommu => viommu.Instance.Invalidate(requests, viommu.FindDevice, out handled),
            _ => Errno.EINVAL,
        };
    }
}
