using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests.FaultInjection;

/// <summary>A command sequence that succeeds when nothing is injected.</summary>
public sealed record FailNthSequence(string Name, Action<SweepWorld> Run)
{
    public override string ToString() => Name;
}

/// <summary>
/// The sequences the sweep walks, each every ioctl of one area as a program issues them: the
/// kernel's iommufd_fail_nth.c sweeps the same ground (basic IOAS use, map with domains, accesses,
/// devices), here extended to every object type the engine has.
/// </summary>
public static class FailNthSequences
{
    private const ulong Iova = Mock.ApertureStart;
    private const uint ViommuTypeSelftest = 0xdeadbeef;
    private const uint VeventqTypeSelftest = 0xbeefbeef;
    private const uint OpTriggerIopf = 15;
    private const uint OpTriggerVevent = 17;
    private const uint ViommuAllocSize = 40;
    private const uint VeventqAllocSize = 32;

    public static IReadOnlyList<FailNthSequence> All { get; } =
    [
        new("ioas map, copy, ranges, unmap", IoasBasics),
        new("map with domains, copy between domains", MapWithDomains),
        new("hwpt alloc, replace, detach", HwptReplace),
        new("access create, pin, rw", Access),
        new("fault queue and IOPF HWPT", FaultQueue),
        new("vIOMMU, vDEVICE, vEVENTQ, nested HWPT", Viommu),
        new("dirty tracking", DirtyTracking),
        new("VFIO type1 compatibility, GET_HW_INFO", VfioCompat),
    ];

    private static void IoasBasics(SweepWorld w)
    {
        var a = w.AllocIoas();
        var b = w.AllocIoas();
        w.Session.Heap.Write(w.Scratch, new IommuIovaRange { Start = 0x1000_0000, Last = 0x1fff_ffff });
        w.Do("IOAS_ALLOW_IOVAS", Cmd.AllowIovas(b, 1, w.Scratch));
        w.Do("IOAS_MAP fixed", Cmd.MapFixed(a, 0x10_0000, w.Buffer, 0x8000));
        var auto = w.Do("IOAS_MAP auto", Cmd.Map(a, w.Buffer + 0x8000, 0x8000)).Iova;
        w.Do("IOAS_COPY", Cmd.Copy(b, a, 0x10_0000, 0x8000));
        w.Do("IOAS_IOVA_RANGES", Cmd.IovaRanges(b, 4, w.Scratch + 0x100));
        w.Do("IOAS_UNMAP", Cmd.Unmap(a, auto, 0x8000));
        w.Do("IOAS_UNMAP all", Cmd.Unmap(a, 0, ulong.MaxValue));
        w.Destroy(b, "IOAS");
    }

    private static void MapWithDomains(SweepWorld w)
    {
        var a = w.AllocIoas();
        w.Do("IOAS_MAP fixed", Cmd.MapFixed(a, Iova, w.Buffer, 0x1_0000));
        var first = w.MockDomain(a);
        w.Do("IOAS_MAP auto", Cmd.Map(a, w.Buffer + 0x1_0000, 0x1_0000));
        var second = w.MockDomain(a);
        var b = w.AllocIoas();
        var other = w.MockDomain(b);
        w.Do("IOAS_COPY", Cmd.Copy(b, a, Iova, 0x1_0000));
        w.Do("IOAS_UNMAP", Cmd.Unmap(a, Iova, 0x1_0000));
        w.Destroy(second.Stdev, "mock device");
        w.Do("IOAS_UNMAP all", Cmd.Unmap(b, 0, ulong.MaxValue));
        w.Destroy(other.Stdev, "mock device");
        w.Destroy(first.Stdev, "mock device");
    }

    private static void HwptReplace(SweepWorld w)
    {
        var ioas = w.AllocIoas();
        w.Do("IOAS_MAP fixed", Cmd.MapFixed(ioas, Iova, w.Buffer, 0x1_0000));
        var dev = w.MockDomain(ioas);
        var hwpt = w.Do("HWPT_ALLOC", DevCmd.HwptAlloc(dev.Idev, ioas)).OutHwptId;
        w.Replace(dev.Stdev, hwpt);
        w.Do("IOAS_MAP auto", Cmd.Map(ioas, w.Buffer + 0x1_0000, 0x2_0000));
        w.Replace(dev.Stdev, ioas);
        w.Destroy(hwpt, "HWPT");
        w.Do("IOAS_UNMAP all", Cmd.Unmap(ioas, 0, ulong.MaxValue));
        w.Destroy(dev.Stdev, "mock device");
        w.Destroy(ioas, "IOAS");
    }

    private static void Access(SweepWorld w)
    {
        var ioas = w.AllocIoas();
        w.Do("IOAS_MAP fixed", Cmd.MapFixed(ioas, Iova, w.Buffer, 0x1_0000));
        var create = DevCmd.Test(TestOps.CreateAccess, ioas);
        create.CreateAccess.Flags = TestAccessFlags.CreateNeedsPinPages;
        var fd = (int)w.Do("CREATE_ACCESS", create).CreateAccess.OutAccessFd;
        w.Fds.Add(fd);
        var pin = DevCmd.Test(TestOps.AccessPages, (uint)fd);
        pin.AccessPages = new TestAccessPages { Flags = TestAccessFlags.PagesWrite, Iova = Iova, Length = 0x4000, Uptr = w.Buffer };
        var pages = w.Do("ACCESS_PAGES", pin).AccessPages.OutAccessPagesId;
        foreach (var flags in new[] { TestAccessFlags.RwWrite, 0u, TestAccessFlags.RwSlowPath })
        {
            var rw = DevCmd.Test(TestOps.AccessRw, (uint)fd);
            rw.AccessRw = new TestAccessRw { Iova = Iova + 0x3100, Length = 0x1200, Uptr = w.Buffer + 0x3_0000, Flags = flags };
            w.Do("ACCESS_RW", rw);
        }
        var dev = w.MockDomain(ioas);
        var unpin = DevCmd.Test(TestOps.DestroyAccessPages, (uint)fd);
        unpin.DestroyAccessPages.AccessPagesId = pages;
        w.Do("DESTROY_ACCESS_PAGES", unpin);
        pin.AccessPages.Iova = Iova + 0x8000;
        pin.AccessPages.Uptr = w.Buffer + 0x8000;
        w.Do("ACCESS_PAGES with a domain", pin);
        w.Do("IOAS_UNMAP all (access told to unpin)", Cmd.Unmap(ioas, 0, ulong.MaxValue));
        w.Close(fd);
        w.Destroy(dev.Stdev, "mock device");
    }

    private static void FaultQueue(SweepWorld w)
    {
        var ioas = w.AllocIoas();
        w.Do("IOAS_MAP fixed", Cmd.MapFixed(ioas, Iova, w.Buffer, 0x1_0000));
        var dev = w.MockDomain(ioas);
        var parent = w.Do("HWPT_ALLOC nest parent", DevCmd.HwptAlloc(dev.Idev, ioas, Mock.HwptNestParent)).OutHwptId;
        var fault = w.Do("FAULT_QUEUE_ALLOC", new IommuFaultAlloc { Size = 16 });
        w.Fds.Add((int)fault.OutFaultFd);
        w.Session.Heap.Write(w.Scratch, 0xbadbeefu);
        var iopf = DevCmd.HwptAlloc(dev.Idev, parent, Mock.HwptFaultIdValid, Mock.HwptDataSelftest, 8, w.Scratch) with { FaultId = fault.OutFaultId };
        var hwpt = w.Do("HWPT_ALLOC with a fault queue", iopf).OutHwptId;
        w.Replace(dev.Stdev, hwpt);
        var trigger = DevCmd.Test(OpTriggerIopf);
        trigger.TriggerIopf = new TestTriggerIopf { DevId = dev.Idev, Pasid = 1, GroupId = 2, Perm = 3, Addr = 0x1234_5000 };
        w.Do("TRIGGER_IOPF", trigger);
        var file = w.File((int)fault.OutFaultFd);
        w.Step("read the fault fd", () => file.Read(w.Session.Memory, w.Scratch + 0x100, 2 * FaultRecordSize, out _));
        // struct iommu_hwpt_page_response { u32 cookie; u32 code; }: the record's cookie is at offset 36.
        w.Session.Heap.Write(w.Scratch + 0x200, w.Session.Heap.Read<uint>(w.Scratch + 0x100 + 36));
        w.Session.Heap.Write(w.Scratch + 0x204, 0u);
        w.Step("answer on the fault fd", () => file.Write(w.Session.Memory, w.Scratch + 0x200, 8, out _));
        w.Replace(dev.Stdev, ioas);
        w.Destroy(hwpt, "IOPF HWPT");
        w.Close((int)fault.OutFaultFd);
        w.Destroy(fault.OutFaultId, "fault queue");
        w.Destroy(parent, "parent HWPT");
    }

    private static void Viommu(SweepWorld w)
    {
        var ioas = w.AllocIoas();
        w.Do("IOAS_MAP fixed", Cmd.MapFixed(ioas, Iova, w.Buffer, 0x1_0000));
        var dev = w.MockDomain(ioas);
        var parent = w.Do("HWPT_ALLOC nest parent", DevCmd.HwptAlloc(dev.Idev, ioas, Mock.HwptNestParent)).OutHwptId;
        var viommu = w.Do("VIOMMU_ALLOC", DevCmd.ViommuAlloc(dev.Idev, parent, ViommuTypeSelftest) with { Size = ViommuAllocSize }).OutViommuId;
        var vdev = w.Do("VDEVICE_ALLOC", DevCmd.VdeviceAlloc(viommu, dev.Idev, 0x99)).OutVdeviceId;
        var queue = w.Do("VEVENTQ_ALLOC", new IommuVeventqAlloc { Size = VeventqAllocSize, ViommuId = viommu, Type = VeventqTypeSelftest, VeventqDepth = 2 });
        w.Fds.Add((int)queue.OutVeventqFd);
        w.Session.Heap.Write(w.Scratch, 0u);
        var nested = w.Do("HWPT_ALLOC nested on the vIOMMU", DevCmd.HwptAlloc(dev.Idev, viommu, 0, Mock.HwptDataSelftest, 8, w.Scratch)).OutHwptId;
        w.Replace(dev.Stdev, nested);
        w.Do("TRIGGER_VEVENT", DevCmd.Test(OpTriggerVevent) with { TriggerVeventDevId = dev.Idev });
        var file = w.File((int)queue.OutVeventqFd);
        w.Step("read the vEVENTQ fd", () => file.Read(w.Session.Memory, w.Scratch + 0x100, 0x100, out _));
        w.Replace(dev.Stdev, ioas);
        w.Destroy(nested, "nested HWPT");
        w.Destroy(vdev, "vDEVICE");
        w.Close((int)queue.OutVeventqFd);
        w.Destroy(queue.OutVeventqId, "vEVENTQ");
        w.Destroy(viommu, "vIOMMU");
    }

    private static void DirtyTracking(SweepWorld w)
    {
        var ioas = w.AllocIoas();
        w.Do("OPTION huge pages off", Cmd.Option(Header.OptionHugePages, Header.OpSet, ioas, 0));
        var dev = w.MockDomain(ioas);
        w.Do("IOAS_MAP fixed", Cmd.MapFixed(ioas, Iova, w.Buffer, 0x1_0000));
        var hwpt = w.Do("HWPT_ALLOC dirty tracking", DevCmd.HwptAlloc(dev.Idev, ioas, Mock.HwptDirtyTracking)).OutHwptId;
        w.Replace(dev.Stdev, hwpt);
        w.Do("SET_DIRTY_TRACKING on", new IommuHwptSetDirtyTracking { Size = Header.HwptSetDirtyTrackingSize, Flags = 1, HwptId = hwpt });
        w.Session.Heap.Write(w.Scratch, 0x8142_0311_0000_f00dUL);
        var mark = DevCmd.Test(TestOps.Dirty, hwpt);
        mark.Dirty = new TestDirty { Iova = Iova, Length = 0x1_0000, PageSize = MockDomainPage, Uptr = w.Scratch };
        w.Do("DIRTY (mark)", mark);
        foreach (var flags in new[] { 1u, 0u })
        {
            w.Do("GET_DIRTY_BITMAP", new IommuHwptGetDirtyBitmap
            {
                Size = Header.HwptGetDirtyBitmapSize,
                HwptId = hwpt,
                Flags = flags,
                Iova = Iova,
                Length = 0x1_0000,
                PageSize = MockDomainPage,
                Data = w.Scratch + 0x100,
            });
        }
        w.Do("SET_DIRTY_TRACKING off", new IommuHwptSetDirtyTracking { Size = Header.HwptSetDirtyTrackingSize, HwptId = hwpt });
        w.Replace(dev.Stdev, ioas);
        w.Destroy(hwpt, "dirty HWPT");
    }

    private static void VfioCompat(SweepWorld w)
    {
        const uint SetIommu = 0x3b66, GetInfo = 0x3b70, MapDma = 0x3b71, UnmapDma = 0x3b72;
        const ulong Type1v2 = 3;
        var ioas = w.AllocIoas();
        var dev = w.MockDomain(ioas);
        w.Do("IOMMU_VFIO_IOAS set", DevCmd.VfioIoas(Mock.VfioIoasSet, ioas));
        w.Step("VFIO_SET_IOMMU", () => w.Session.Ioctl(SetIommu, Type1v2));
        var info = w.Scratch + 0x200;
        w.Session.Heap.Write(info, 0x100u);
        w.Step("VFIO_IOMMU_GET_INFO", () => w.Session.Ioctl(GetInfo, info));
        var map = w.Scratch + 0x400;
        w.Session.Heap.Write(map, 32u);
        w.Session.Heap.Write(map + 4, 3u); // READ | WRITE
        w.Session.Heap.Write(map + 8, w.Buffer);
        w.Session.Heap.Write(map + 16, Iova);
        w.Session.Heap.Write(map + 24, 0x1_0000UL);
        w.Step("VFIO_IOMMU_MAP_DMA", () => w.Session.Ioctl(MapDma, map));
        var unmap = w.Scratch + 0x500;
        w.Session.Heap.Write(unmap, 24u);
        w.Session.Heap.Write(unmap + 4, 0u);
        w.Session.Heap.Write(unmap + 8, Iova);
        w.Session.Heap.Write(unmap + 16, 0x1_0000UL);
        w.Step("VFIO_IOMMU_UNMAP_DMA", () => w.Session.Ioctl(UnmapDma, unmap));
        w.Do("GET_HW_INFO", DevCmd.HwInfo(dev.Idev, 64, w.Scratch + 0x600));
        w.Destroy(dev.Stdev, "mock device");
    }

    private const ulong MockDomainPage = Mock.PageSize;

    /// <summary>sizeof(struct iommu_hwpt_pgfault).</summary>
    private const ulong FaultRecordSize = 40;
}
