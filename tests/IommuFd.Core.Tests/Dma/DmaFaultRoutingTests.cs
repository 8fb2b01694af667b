using IommuFd.Core.Dma;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Faults;
using IommuFd.Core.Machines;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Dma;

/// <summary>
/// Where a DMA fault goes: to the HWPT's fault queue as a page request when the HWPT has one and
/// both the device and its IOMMU can make page requests; to the device model in every other case.
/// </summary>
public sealed class DmaFaultRoutingTests : IDisposable
{
    private const ulong UserBase = 0x40_0000;
    private const ulong Iova = 0x100_0000;

    private readonly SimulatedUserMemory _memory = new();
    private readonly IommufdContext _context;
    private readonly IoasId _ioas;
    private readonly FaultQueue _queue;

    public DmaFaultRoutingTests()
    {
        _memory.Map(UserBase, 0x10_0000);
        _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _context.CreateFaultQueue(out _queue).ThrowIfError("queue");
    }

    public void Dispose() => _context.Dispose();

    /// <summary>dma0 of an intel-vtd machine (PRI as given), attached to a paging HWPT with or without the fault queue.</summary>
    private (DmaPort Port, DeviceId Id) Device(RecordingDeviceModel model, bool pri = true, bool withQueue = true)
    {
        var preset = MachinePresets.IntelVtd;
        var machine = new Machine(preset with { Iommus = [preset.Iommus[0] with { Pri = pri }] });
        var dma0 = machine.Device("dma0");
        var device = dma0.CreateDevice();
        _context.BindDevice(device, out var id).ThrowIfError("bind");
        var flags = withQueue ? HwptAllocFlags.FaultIdValid : HwptAllocFlags.None;
        _context.AllocHwpt(id, _ioas, flags, null, out var hwpt, _queue.TypedId).ThrowIfError("hwpt");
        _context.AttachDevice(id, hwpt, out _).ThrowIfError("attach");
        return (dma0.Iommu.OpenDma(_context, device, model), id);
    }

    private List<FaultGroup> Drain()
    {
        var groups = new List<FaultGroup>();
        _queue.Deliver(100, g =>
        {
            groups.Add(g);
            return true;
        });
        return groups;
    }

    [Fact]
    public void A_pri_device_faults_into_the_queue_hears_the_answer_and_can_retry()
    {
        var model = new RecordingDeviceModel(canRequestPages: true);
        var (port, id) = Device(model);
        var result = port.Write(Iova + 0x10, [1, 2, 3]);
        Assert.Equal(DmaFaultRoute.PageRequest, result.Route);
        Assert.Empty(model.Errors);

        var group = Assert.Single(Drain());
        Assert.Equal(id, group.Device);
        var request = Assert.Single(group.Requests);
        Assert.Equal(Iova, request.Address);
        Assert.Equal(PageRequestAccess.Write, request.Access);
        Assert.Equal(PageRequestFlags.LastPage, request.Flags);

        // The program maps the page, then answers; the device hears Success and retries.
        var iova = Iova;
        _context.Map(_ioas, UserBase, 0x1000, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
        _queue.Respond(group.Cookie, PageResponseCode.Success).ThrowIfError("respond");
        var (fault, code) = Assert.Single(model.Responses);
        Assert.Equal((result.Fault, PageResponseCode.Success), (fault, code));
        Assert.True(port.Write(Iova + 0x10, [1, 2, 3]).Completed);
    }

    [Fact]
    public void Without_pri_on_the_iommu_the_fault_goes_to_the_device()
    {
        var model = new RecordingDeviceModel(canRequestPages: true);
        var (port, _) = Device(model, pri: false);
        Assert.Equal(DmaFaultRoute.DeviceModel, port.Read(Iova, new byte[1]).Route);
        Assert.Single(model.Errors);
        Assert.Equal(0, _queue.WaitingCount);
    }

    [Fact]
    public void A_device_that_cannot_make_page_requests_gets_the_error()
    {
        var model = new RecordingDeviceModel(canRequestPages: false);
        var (port, _) = Device(model);
        Assert.Equal(DmaFaultRoute.DeviceModel, port.Read(Iova, new byte[1]).Route);
        Assert.Single(model.Errors);
        Assert.Equal(0, _queue.WaitingCount);
    }

    [Fact]
    public void An_hwpt_without_a_fault_queue_sends_the_fault_to_the_device()
    {
        var model = new RecordingDeviceModel(canRequestPages: true);
        var (port, _) = Device(model, withQueue: false);
        Assert.Equal(DmaFaultRoute.DeviceModel, port.Read(Iova, new byte[1]).Route);
        Assert.Single(model.Errors);
    }

    [Fact]
    public void A_blocked_device_has_nobody_to_ask_and_reports_the_error()
    {
        var model = new RecordingDeviceModel(canRequestPages: true);
        var (port, id) = Device(model);
        _context.DetachDevice(id).ThrowIfError("detach");
        var result = port.Read(Iova, new byte[1]);
        Assert.Equal((DmaFaultReason.Blocked, DmaFaultRoute.DeviceModel), (result.Fault?.Reason, result.Route));
        Assert.Equal(0, _queue.WaitingCount);
    }

    [Fact]
    public void A_pasid_fault_through_a_nested_hwpt_carries_its_pasid()
    {
        // The mock driver: its nested domain keeps stage 1 in managed memory (SoftStageOne).
        var machine = new Machine(MachinePresets.ArmSmmuV3, _ => MockIommuDriver.Instance);
        var dma1 = machine.Device("dma1");
        var device = dma1.CreateDevice();
        _context.BindDevice(device, out var id).ThrowIfError("bind");
        _context.AllocHwpt(id, _ioas, HwptAllocFlags.NestParent, null, out var parent).ThrowIfError("parent");
        _context.AllocHwpt(id, parent, HwptAllocFlags.FaultIdValid, new ManagedDriverData(MockIommuDriver.HwptDataSelftest, new byte[4]), out var nested, _queue.TypedId).ThrowIfError("nested");
        _context.AttachDevice(id, nested, out _).ThrowIfError("attach");
        HwptNested hwpt;
        using (var hold = _context.Objects.Hold<HwptNested>(nested))
        {
            hold.Status.ThrowIfError("hold");
            hwpt = hold.Value;
        }
        ((MockNestedDomain)hwpt.Domain).StageOne.Map(9, 0x5000, Iova, 0x1000, IoProt.Read).ThrowIfError("s1");
        var model = new RecordingDeviceModel(canRequestPages: true);
        var port = dma1.Iommu.OpenDma(_context, device, model);

        var result = port.Read(0x5123, new byte[4], pasid: 9);
        Assert.Equal((DmaFaultReason.NotMapped, 2, DmaFaultRoute.PageRequest), (result.Fault?.Reason, result.Fault?.Stage, result.Route));
        var request = Assert.Single(Assert.Single(Drain()).Requests);
        Assert.Equal((PageRequestFlags.LastPage | PageRequestFlags.PasidValid, 9u, 0x5000UL, PageRequestAccess.Read),
            (request.Flags, request.Pasid, request.Address, request.Access));

        // A PASID with no stage-1 context cannot be fixed by a page request.
        Assert.Equal(DmaFaultRoute.DeviceModel, port.Read(0x5000, new byte[4], pasid: 10).Route);
    }
}
