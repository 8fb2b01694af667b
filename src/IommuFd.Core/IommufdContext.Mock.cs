using System.Numerics;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>
/// The self-test's mock bus: create a mock device, bind it and attach it in one step; and the
/// checks the self-test makes on mock domains and devices.
/// </summary>
public sealed partial class IommufdContext
{
    /// <summary>
    /// MOCK_DOMAIN / MOCK_DOMAIN_FLAGS, pending until published: a new mock device bound to this
    /// context and attached to <paramref name="ptId"/> (an IOAS or an HWPT). Aborting (or any
    /// failure) unbinds the device again, so nothing is left behind.
    /// </summary>
    public PendingObject<SelftestDevice> BeginCreateMockDevice(ObjectId ptId, MockDeviceFlags flags, out HwptId hwptId)
    {
        hwptId = default;
        if ((flags & ~MockDeviceFlags.Known) != 0)
            return new PendingObject<SelftestDevice>(Errno.EINVAL);
        var device = MockIommuDriver.Instance.CreateDevice(flags);
        var pending = Objects.Reserve(new SelftestDevice(this, device));
        if (!pending.Reserved)
            return pending;
        var rc = pending.Value.Bind();
        if (rc == Errno.Ok)
            rc = AttachDevice(device.TypedId, ptId, out hwptId);
        if (rc == Errno.Ok)
            return pending;
        pending.Dispose();
        return new PendingObject<SelftestDevice>(rc);
    }

    /// <summary>Like <see cref="BeginCreateMockDevice"/>, published at once.</summary>
    public Errno CreateMockDevice(ObjectId ptId, MockDeviceFlags flags, out SelftestDevice selftest, out HwptId hwptId)
    {
        using var pending = BeginCreateMockDevice(ptId, flags, out hwptId);
        return pending.PublishNow(out selftest);
    }

    /// <summary>MOCK_DOMAIN_REPLACE: moves the mock device named by its handle <paramref name="selftestId"/> (ENOENT when unknown).</summary>
    public Errno ReplaceMockDevice(ObjectId selftestId, ObjectId ptId, out HwptId hwptId)
    {
        hwptId = default;
        using var selftest = Objects.Hold<SelftestDevice>(selftestId);
        return selftest.Held ? ReplaceDevice(selftest.Value.Device.TypedId, ptId, out hwptId) : selftest.Status;
    }

    /// <summary>
    /// MD_CHECK_MAP: every mock IO page of [iova, +length) of paging HWPT <paramref name="hwptId"/>
    /// must translate to the matching byte of <paramref name="uptr"/> in <paramref name="memory"/>.
    /// ENOENT for an unknown HWPT, EINVAL for a non-mock one, misaligned input or a mismatch.
    /// </summary>
    public Errno CheckMockMap(ObjectId hwptId, ulong iova, ulong length, ulong uptr, IUserMemory memory)
    {
        using var hwpt = Objects.Hold<HwptPaging>(hwptId);
        if (!hwpt.Held)
            return hwpt.Status;
        if (hwpt.Value.Domain is not MockDomain domain)
            return Errno.EINVAL;
        var pageSize = 1UL << BitOperations.TrailingZeroCount(domain.PageSizeBitmap);
        if (((iova | length | uptr) & (pageSize - 1)) != 0 || uptr > ulong.MaxValue - length)
            return Errno.EINVAL;
        Span<byte> probe = stackalloc byte[1];
        for (var offset = 0UL; offset < length; offset += pageSize)
        {
            // The page behind uptr must exist, as the kernel must find the struct page.
            var rc = memory.Read(uptr + offset, probe);
            if (rc != Errno.Ok)
                return rc;
            if (domain.IovaToPhys(iova + offset) is not { } phys
                || CpuPage.Offset(phys) != CpuPage.Offset(uptr + offset) || !memory.SamePage(phys, uptr + offset))
                return Errno.EINVAL;
        }
        return Errno.Ok;
    }

    /// <summary>MD_CHECK_IOTLB: IOTLB entry <paramref name="entry"/> of a mock nested HWPT must hold <paramref name="expected"/>.</summary>
    public Errno CheckMockIotlb(ObjectId hwptId, uint entry, uint expected) =>
        CheckMockValue<HwptNested>(hwptId, expected, nested =>
            nested.Domain is MockNestedDomain mock && entry < MockNestedDomain.IotlbEntries ? mock.Iotlb((int)entry) : null);

    /// <summary>DEV_CHECK_CACHE: cache entry <paramref name="index"/> of a mock device must hold <paramref name="expected"/>.</summary>
    public Errno CheckMockDeviceCache(DeviceId deviceId, uint index, uint expected) =>
        CheckMockValue<Device>(deviceId, expected, device =>
            device.DriverState is MockDeviceState state && index < MockDeviceState.CacheCount ? state.Cache[index] : null);

    /// <summary>ENOENT when no <typeparamref name="T"/> has the ID; EINVAL unless <paramref name="read"/> finds <paramref name="expected"/>.</summary>
    private Errno CheckMockValue<T>(ObjectId id, uint expected, Func<T, uint?> read) where T : IommufdObject
    {
        using var obj = Objects.Hold<T>(id);
        if (!obj.Held)
            return obj.Status;
        return read(obj.Value) == expected ? Errno.Ok : Errno.EINVAL;
    }
}
