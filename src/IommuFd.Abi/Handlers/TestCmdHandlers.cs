using System.Runtime.CompilerServices;
using System.Numerics;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Faults;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>
/// IOMMU_TEST_CMD: the self-test protocol the kernel's own selftest drives. Each op checks its
/// input in the kernel's order and then calls the engine or the mock driver.
/// </summary>
internal static class TestCmdHandlers
{
    public static Errno Dispatch(ref UserCommand command)
    {
        ref var cmd = ref command.As<IommuTestCmd>();
        return cmd.Op switch
        {
            TestOps.AddReserved => AddReserved(command.Context, ref cmd),
            TestOps.MockDomain => MockDomain(ref command, ref cmd, MockDeviceFlags.None),
            TestOps.MockDomainFlags => MockDomain(ref command, ref cmd, (MockDeviceFlags)cmd.MockDomain.DevFlags),
            TestOps.MockDomainReplace => MockDomainReplace(ref command, ref cmd),
            TestOps.MdCheckMap => CheckMap(ref command, ref cmd),
            TestOps.MdCheckRefs => CheckRefs(ref command, ref cmd),
            TestOps.SetTempMemoryLimit => SelftestSettings.SetTempMemoryLimit(cmd.MemoryLimit.Limit),
            TestOps.DevCheckCache => CheckDevCache(command.Context, ref cmd),
            TestOps.MdCheckIotlb => CheckIotlb(command.Context, ref cmd),
            TestOps.TriggerIopf => TriggerIopf(command.Context, ref cmd),
            TestOps.Dirty => DirtyHandlers.TestDirty(ref command, ref cmd),
            TestOps.CreateAccess => TestAccessHandlers.Create(ref command, ref cmd),
            TestOps.AccessPages => TestAccessHandlers.Pages(ref command, ref cmd),
            TestOps.DestroyAccessPages => TestAccessHandlers.DestroyPages(ref command, ref cmd),
            TestOps.AccessRw => TestAccessHandlers.ReadWrite(ref command, ref cmd),
            TestOps.AccessReplaceIoas => TestAccessHandlers.ReplaceIoas(ref command, ref cmd),
            _ => Errno.EOPNOTSUPP,
        };
    }

    private static Errno AddReserved(IommufdContext context, ref IommuTestCmd cmd)
    {
        var start = cmd.AddReserved.Start;
        var length = cmd.AddReserved.Length;
        if (length == 0)
            return Errno.EINVAL;
        if (!IovaRange.TryFromLength(start, length, out var range))
            return Errno.EOVERFLOW;
        return context.AddReserved(new IoasId(cmd.Id), range.Start, range.Last);
    }

    private static Errno MockDomain(ref UserCommand command, ref IommuTestCmd cmd, MockDeviceFlags flags)
    {
        var context = command.Context;
        var rc = context.CreateMockDevice(new ObjectId(cmd.Id), flags, out var selftest, out var hwpt, publish: false);
        if (rc != Errno.Ok)
            return rc;
        cmd.MockDomain.OutStdevId = selftest.Id.Value;
        cmd.MockDomain.OutHwptId = hwpt.Value;
        cmd.MockDomain.OutIdevId = selftest.Device.Id.Value;
        rc = command.Respond(Unsafe.SizeOf<IommuTestCmd>());
        if (rc != Errno.Ok)
        {
            context.AbortMockDevice(selftest);
            return rc;
        }
        context.FinishMockDevice(selftest);
        return Errno.Ok;
    }

    private static Errno MockDomainReplace(ref UserCommand command, ref IommuTestCmd cmd)
    {
        var context = command.Context;
        if (context.Objects.TryHold<SelftestDevice>(new ObjectId(cmd.Id), out var selftest) != Errno.Ok)
            return Errno.ENOENT;
        try
        {
            var rc = context.ReplaceDevice(selftest.Device.TypedId, new ObjectId(cmd.MockDomainReplace.PtId), out var hwpt);
            if (rc != Errno.Ok)
                return rc;
            cmd.MockDomainReplace.PtId = hwpt.Value;
            return command.Respond(Unsafe.SizeOf<IommuTestCmd>());
        }
        finally
        {
            context.Objects.Release(selftest);
        }
    }

    /// <summary>Every mock IO page of [iova, +length) must translate to the matching byte of uptr.</summary>
    private static Errno CheckMap(ref UserCommand command, ref IommuTestCmd cmd)
    {
        var context = command.Context;
        if (context.Objects.TryHold<HwptPaging>(new ObjectId(cmd.Id), out var hwpt) != Errno.Ok)
            return Errno.ENOENT;
        try
        {
            if (hwpt.Domain is not MockDomain domain)
                return Errno.EINVAL;
            var pageSize = 1UL << BitOperations.TrailingZeroCount(domain.PageSizeBitmap);
            var (iova, length, uptr) = (cmd.CheckMap.Iova, cmd.CheckMap.Length, cmd.CheckMap.Uptr);
            if (((iova | length | uptr) & (pageSize - 1)) != 0 || uptr > ulong.MaxValue - length)
                return Errno.EINVAL;
            Span<byte> probe = stackalloc byte[1];
            for (var offset = 0UL; offset < length; offset += pageSize)
            {
                // The page behind uptr must exist, as the kernel must find the struct page.
                var rc = command.Memory.Read(uptr + offset, probe);
                if (rc != Errno.Ok)
                    return rc;
                if (domain.IovaToPhys(iova + offset) is not { } phys
                    || CpuPage.Offset(phys) != CpuPage.Offset(uptr + offset) || !command.Memory.SamePage(phys, uptr + offset))
                    return Errno.EINVAL;
            }
            return Errno.Ok;
        }
        finally
        {
            context.Objects.Release(hwpt);
        }
    }

    /// <summary>Each CPU page of [uptr, +length) must carry exactly `refs` long-term pins (EIO otherwise).</summary>
    private static Errno CheckRefs(ref UserCommand command, ref IommuTestCmd cmd)
    {
        var (length, uptr, refs) = (cmd.CheckRefs.Length, cmd.CheckRefs.Uptr, cmd.CheckRefs.Refs);
        if (((length | uptr) & CpuPage.Mask) != 0 || uptr > ulong.MaxValue - length)
            return Errno.EINVAL;
        Span<byte> probe = stackalloc byte[1];
        for (var offset = 0UL; offset < length; offset += CpuPage.Size)
        {
            var rc = command.Memory.Read(uptr + offset, probe);
            if (rc != Errno.Ok)
                return rc;
            if (command.Memory.PinCount(uptr + offset) != refs)
                return Errno.EIO;
        }
        return Errno.Ok;
    }

    /// <summary>IOTLB entry `id` of a mock nested HWPT must hold `iotlb` (invalidation zeroes entries).</summary>
    private static Errno CheckIotlb(IommufdContext context, ref IommuTestCmd cmd)
    {
        if (context.Objects.TryHold<HwptNested>(new ObjectId(cmd.Id), out var nested) != Errno.Ok)
            return Errno.ENOENT;
        try
        {
            if (nested.Domain is not MockNestedDomain mock)
                return Errno.EINVAL;
            var (id, expected) = (cmd.CheckIotlb.Id, cmd.CheckIotlb.Iotlb);
            return id < MockNestedDomain.IotlbEntries && mock.Iotlb((int)id) == expected ? Errno.Ok : Errno.EINVAL;
        }
        finally
        {
            context.Objects.Release(nested);
        }
    }

    /// <summary>The mock device raises one page request (the last of its group) through its attachment.</summary>
    private static Errno TriggerIopf(IommufdContext context, ref IommuTestCmd cmd)
    {
        ref var req = ref cmd.TriggerIopf;
        var flags = PageRequestFlags.LastPage | (req.Pasid != 0 ? PageRequestFlags.PasidValid : PageRequestFlags.None);
        var request = new PageRequest(flags, req.Pasid, req.GroupId, (PageRequestAccess)req.Perm, req.Addr);
        return context.ReportPageRequests(new DeviceId(req.DevId), [request]);
    }

    private static Errno CheckDevCache(IommufdContext context, ref IommuTestCmd cmd)
    {
        if (context.Objects.TryHold<Device>(new DeviceId(cmd.Id), out var device) != Errno.Ok)
            return Errno.ENOENT;
        try
        {
            if (device.DriverState is not MockDeviceState state)
                return Errno.EINVAL;
            var index = cmd.CheckDevCache.Id;
            if (index >= MockDeviceState.CacheCount || state.Cache[index] != cmd.CheckDevCache.Cache)
                return Errno.EINVAL;
            return Errno.Ok;
        }
        finally
        {
            context.Objects.Release(device);
        }
    }
}
