using System.Runtime.CompilerServices;
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
            TestOps.TriggerVevent => command.Context.TriggerMockVevent(new DeviceId(cmd.TriggerVeventDevId)),
            TestOps.CreateAccess => TestAccessHandlers.Create(ref command, ref cmd),
            TestOps.AccessPages => TestAccessHandlers.Pages(ref command, ref cmd),
            TestOps.DestroyAccessPages => TestAccessHandlers.DestroyPages(ref command, ref cmd),
            TestOps.AccessRw => TestAccessHandlers.ReadWrite(ref command, ref cmd),
            TestOps.AccessReplaceIoas => TestAccessHandlers.ReplaceIoas(ref command, ref cmd),
            TestOps.PasidAttach => command.Context.AttachMockPasid(new ObjectId(cmd.Id), cmd.PasidAttach.Pasid, new ObjectId(cmd.PasidAttach.PtId)),
            TestOps.PasidReplace => command.Context.ReplaceMockPasid(new ObjectId(cmd.Id), cmd.PasidReplace.Pasid, new ObjectId(cmd.PasidReplace.PtId)),
            TestOps.PasidDetach => command.Context.DetachMockPasid(new ObjectId(cmd.Id), cmd.PasidDetach.Pasid),
            TestOps.PasidCheckHwpt => command.Context.CheckMockPasidHwpt(new ObjectId(cmd.Id), cmd.PasidCheck.Pasid, new ObjectId(cmd.PasidCheck.HwptId)),
            _ => Errno.EOPNOTSUPP,
        };
    }

    private static Errno AddReserved(IommufdContext context, ref IommuTestCmd cmd)
    {
        var start = cmd.AddReserved.Start;
        var length = cmd.AddReserved.Length;
        var rc = IovaRange.FromLength(start, length, out var range);
        if (rc != Errno.Ok)
            return rc;
        return context.AddReserved(new IoasId(cmd.Id), range.Start, range.Last);
    }

    private static Errno MockDomain(ref UserCommand command, ref IommuTestCmd cmd, MockDeviceFlags flags)
    {
        using var selftest = command.Context.BeginCreateMockDevice(new ObjectId(cmd.Id), flags, out var hwpt);
        if (!selftest.Reserved)
            return selftest.Status;
        cmd.MockDomain.OutStdevId = selftest.Value.Id.Value;
        cmd.MockDomain.OutHwptId = hwpt.Value;
        cmd.MockDomain.OutIdevId = selftest.Value.Device.Id.Value;
        return command.RespondThenPublish(selftest, Unsafe.SizeOf<IommuTestCmd>());
    }

    private static Errno MockDomainReplace(ref UserCommand command, ref IommuTestCmd cmd)
    {
        var rc = command.Context.ReplaceMockDevice(new ObjectId(cmd.Id), new ObjectId(cmd.MockDomainReplace.PtId), out var hwpt);
        if (rc != Errno.Ok)
            return rc;
        cmd.MockDomainReplace.PtId = hwpt.Value;
        return command.Respond(Unsafe.SizeOf<IommuTestCmd>());
    }

    private static Errno CheckMap(ref UserCommand command, ref IommuTestCmd cmd) =>
        command.Context.CheckMockMap(new ObjectId(cmd.Id), cmd.CheckMap.Iova, cmd.CheckMap.Length, cmd.CheckMap.Uptr, command.Memory);

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

    private static Errno CheckIotlb(IommufdContext context, ref IommuTestCmd cmd) =>
        context.CheckMockIotlb(new ObjectId(cmd.Id), cmd.CheckIotlb.Id, cmd.CheckIotlb.Iotlb);

    /// <summary>The mock device raises one page request (the last of its group) through its attachment.</summary>
    private static Errno TriggerIopf(IommufdContext context, ref IommuTestCmd cmd)
    {
        ref var req = ref cmd.TriggerIopf;
        var flags = PageRequestFlags.LastPage | (req.Pasid != 0 ? PageRequestFlags.PasidValid : PageRequestFlags.None);
        var request = new PageRequest(flags, req.Pasid, req.GroupId, (PageRequestAccess)req.Perm, req.Addr);
        return context.ReportPageRequests(new DeviceId(req.DevId), [request]);
    }

    private static Errno CheckDevCache(IommufdContext context, ref IommuTestCmd cmd) =>
        context.CheckMockDeviceCache(new DeviceId(cmd.Id), cmd.CheckDevCache.Id, cmd.CheckDevCache.Cache);
}
