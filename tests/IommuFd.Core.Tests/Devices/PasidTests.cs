using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Faults;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Devices;

/// <summary>
/// PASID attach, replace and detach (device.c rules) on the mock IOMMU: only PASID-compatible
/// HWPTs attach to a PASID, the RID's HWPT must be one too, and the other way round.
/// </summary>
public sealed class PasidTests
{
    private const uint Pasid = 100;
    private static readonly byte[] SelftestData = [0, 0, 0, 0]; // iommu_hwpt_selftest.iotlb = 0

    private readonly IommufdContext _context = new(new IommuHost(new SimulatedUserMemory(), ulong.MaxValue));
    private readonly IoasId _ioas;
    private readonly DeviceId _device;

    public PasidTests()
    {
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _device = Bind(MockDeviceFlags.Pasid);
    }

    private DeviceId Bind(MockDeviceFlags flags)
    {
        _context.BindDevice(MockIommuDriver.Instance.CreateDevice(flags), out var id).ThrowIfError("bind");
        return id;
    }

    private HwptId Paging(HwptAllocFlags flags, DeviceId? device = null)
    {
        _context.AllocHwpt(device ?? _device, _ioas, flags, null, out var id).ThrowIfError("hwpt");
        return id;
    }

    private HwptId Nested(HwptId parent, HwptAllocFlags flags, FaultId fault = default)
    {
        _context.AllocHwpt(_device, parent, flags, new ManagedDriverData(MockIommuDriver.HwptDataSelftest, SelftestData), out var id, fault)
            .ThrowIfError("nested");
        return id;
    }

    private HwptId? At(uint pasid, DeviceId? device = null)
    {
        _context.GetPasidHwpt(device ?? _device, pasid, out var id).ThrowIfError("get");
        return id;
    }

    [Fact]
    public void A_compatible_hwpt_attaches_once_and_detaches_idempotently()
    {
        var s2 = Paging(HwptAllocFlags.Pasid);
        Assert.Equal(Errno.Ok, _context.DetachDevicePasid(_device, Pasid)); // nothing attached: fine
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, Pasid, s2));
        Assert.Equal(s2, At(Pasid));
        Assert.Null(At(Pasid + 1));
        Assert.Equal(Errno.EBUSY, _context.AttachDevicePasid(_device, Pasid, s2));
        Assert.Equal(Errno.EBUSY, _context.Destroy(s2)); // the attachment uses it
        Assert.Equal(Errno.Ok, _context.DetachDevicePasid(_device, Pasid));
        Assert.Null(At(Pasid));
        Assert.Equal(Errno.Ok, _context.Destroy(s2));
    }

    [Fact]
    public void Only_pasid_compatible_hwpts_attach_to_a_pasid()
    {
        var plain = Paging(HwptAllocFlags.None);
        var parent = Paging(HwptAllocFlags.NestParent);
        Assert.Equal(Errno.EINVAL, _context.AttachDevicePasid(_device, Pasid, plain));
        Assert.Equal(Errno.EINVAL, _context.AttachDevicePasid(_device, Pasid, parent));
        Assert.Equal(Errno.EINVAL, _context.AttachDevicePasid(_device, Pasid, _ioas)); // its automatic HWPT never is
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, Pasid, Nested(parent, HwptAllocFlags.Pasid)));
        Assert.Equal(Errno.ENOENT, _context.AttachDevicePasid(_device, Pasid + 1, new ObjectId(999)));
        Assert.Equal(Errno.ENOENT, _context.AttachDevicePasid(new DeviceId(998), Pasid + 1, plain));
        Assert.Equal(Errno.EINVAL, _context.AttachDevicePasid(_device, Pasid + 1, _device)); // not an HWPT
    }

    [Fact]
    public void The_rid_and_the_pasids_must_agree()
    {
        var parent = Paging(HwptAllocFlags.NestParent);
        var s2 = Paging(HwptAllocFlags.Pasid);
        Assert.Equal(Errno.Ok, _context.AttachDevice(_device, parent, out _));
        Assert.Equal(Errno.EINVAL, _context.AttachDevicePasid(_device, Pasid, s2)); // the RID's HWPT is not compatible
        Assert.Equal(Errno.Ok, _context.ReplaceDevice(_device, s2, out _));
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, Pasid, s2));
        Assert.Equal(Errno.EINVAL, _context.ReplaceDevice(_device, parent, out _)); // a PASID is attached
        Assert.Equal(Errno.Ok, _context.DetachDevice(_device));
        Assert.Equal(Errno.EINVAL, _context.AttachDevice(_device, parent, out _));
        Assert.Equal(Errno.Ok, _context.DetachDevicePasid(_device, Pasid));
        Assert.Equal(Errno.Ok, _context.AttachDevice(_device, parent, out _));
    }

    [Fact]
    public void A_device_without_pasid_gets_EINVAL_and_a_pasid_past_the_width_too()
    {
        var s2 = Paging(HwptAllocFlags.Pasid);
        var plain = Bind(MockDeviceFlags.None);
        Assert.Equal(Errno.EINVAL, _context.AttachDevicePasid(plain, Pasid, s2));
        Assert.Equal(Errno.Ok, _context.AttachDevice(plain, s2, out _)); // its RID may use a compatible HWPT
        Assert.Equal(Errno.EINVAL, _context.AttachDevicePasid(_device, 1u << MockIommuDriver.PasidWidth, s2));
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, (1u << MockIommuDriver.PasidWidth) - 1, s2));
    }

    [Fact]
    public void Replace_moves_an_attached_pasid_and_a_refusal_keeps_the_old_hwpt()
    {
        var parent = Paging(HwptAllocFlags.NestParent);
        var s2 = Paging(HwptAllocFlags.Pasid);
        var nested = Nested(parent, HwptAllocFlags.Pasid);
        Assert.Equal(Errno.EINVAL, _context.ReplaceDevicePasid(_device, Pasid, s2)); // not attached
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, Pasid, s2));
        Assert.Equal(Errno.EINVAL, _context.ReplaceDevicePasid(_device, Pasid, _ioas));
        Assert.Equal(Errno.EINVAL, _context.ReplaceDevicePasid(_device, Pasid, parent));
        Assert.Equal(Errno.Ok, _context.ReplaceDevicePasid(_device, Pasid, s2)); // the same: nothing to do
        Assert.Equal(Errno.Ok, _context.ReplaceDevicePasid(_device, Pasid, nested));
        Assert.Equal(nested, At(Pasid));
        Assert.Equal(Errno.Ok, _context.Destroy(s2)); // the old one is no longer used

        // The mock's faulty PASID: the replace after an attach fails, the attach stays.
        var other = Paging(HwptAllocFlags.Pasid);
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, MockIommuDriver.FaultyPasid, other));
        Assert.Equal(Errno.ENOMEM, _context.ReplaceDevicePasid(_device, MockIommuDriver.FaultyPasid, nested));
        Assert.Equal(other, At(MockIommuDriver.FaultyPasid));
        Assert.Equal(Errno.Ok, _context.ReplaceDevicePasid(_device, MockIommuDriver.FaultyPasid, nested));
        Assert.Equal(Errno.Ok, _context.Destroy(other));
    }

    [Fact]
    public void Pasid_zero_is_the_rid()
    {
        var s2 = Paging(HwptAllocFlags.Pasid);
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, IommufdContext.NoPasid, s2));
        Assert.Equal(s2, At(IommufdContext.NoPasid));
        Assert.Equal(Errno.EBUSY, _context.AttachDevice(_device, s2, out _));
        Assert.Equal(Errno.Ok, _context.DetachDevicePasid(_device, IommufdContext.NoPasid));
        Assert.Null(At(IommufdContext.NoPasid));
    }

    [Fact]
    public void A_page_request_with_a_pasid_reaches_the_queue_of_the_hwpt_at_that_pasid()
    {
        var parent = Paging(HwptAllocFlags.NestParent);
        var s2 = Paging(HwptAllocFlags.Pasid);
        _context.CreateFaultQueue(out var queue).ThrowIfError("queue");
        var iopf = Nested(parent, HwptAllocFlags.Pasid | HwptAllocFlags.FaultIdValid, queue.TypedId);
        Assert.Equal(Errno.Ok, _context.AttachDevice(_device, s2, out _));
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, 2048, iopf));
        var request = new PageRequest(PageRequestFlags.PasidValid | PageRequestFlags.LastPage, 2048, 2, PageRequestAccess.Read, 0x1000);
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [request]));
        Assert.Equal(1, queue.WaitingCount);
        // Another PASID goes to the RID's HWPT, which has no queue: answered, not queued.
        PageResponseCode? answer = null;
        Assert.Equal(Errno.Ok, _context.ReportPageRequests(_device, [request with { Pasid = 7 }], code => answer = code));
        Assert.Equal(1, queue.WaitingCount);
        Assert.Equal(PageResponseCode.Invalid, answer);
        // Detaching the PASID answers what is still waiting there.
        Assert.Equal(Errno.Ok, _context.DetachDevicePasid(_device, 2048));
        Assert.Equal(0, queue.WaitingCount);
    }

    [Fact]
    public void An_attached_pasid_keeps_its_device_until_detached()
    {
        var s2 = Paging(HwptAllocFlags.Pasid);
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, Pasid, s2));
        Assert.Equal(Errno.EBUSY, _context.Destroy(_device));
        Assert.Equal(Errno.Ok, _context.UnbindDevice(_device)); // unbinding detaches every PASID first
        Assert.Equal(Errno.Ok, _context.Destroy(s2));
    }

    [Fact]
    public void Closing_the_context_releases_pasid_attachments()
    {
        var s2 = Paging(HwptAllocFlags.Pasid);
        Assert.Equal(Errno.Ok, _context.AttachDevicePasid(_device, Pasid, s2));
        _context.Dispose();
        Assert.Equal(0, _context.Objects.Count);
    }
}
