using System.Buffers.Binary;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// Nested HWPTs on a NEST_PARENT paging parent (hw_pagetable.c iommufd_hwpt_nested_alloc, the
/// mock's domain_alloc_nested), their invalidation (the mock's four IOTLB entries) and attaching
/// devices to them.
/// </summary>
public sealed class NestedHwptTests : IDisposable
{
    private const uint IotlbDefault = 0xbadbeef;
    private const uint InvalidateSelftest = 0xdeadbeef;
    private const uint OpMdCheckIotlb = 14;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _dev;
    private readonly uint _parent;
    private readonly ulong _data;

    public NestedHwptTests()
    {
        _ioas = _s.AllocIoas();
        _dev = _s.AddMock(_ioas);
        _parent = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptNestParent);
        _data = _s.Heap.Alloc(64);
        WriteU32(_data, IotlbDefault);
    }

    public void Dispose() => _s.Dispose();

    private void WriteU32(ulong address, uint value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        Assert.Equal(Errno.Ok, _s.Memory.Write(address, bytes));
    }

    private Errno Nested(uint ptId, out uint id, uint flags = 0, uint dataType = Mock.HwptDataSelftest, uint dataLen = 8, ulong? data = null, uint faultId = 0)
    {
        var cmd = DevCmd.HwptAlloc(_dev.Idev, ptId, flags, dataType, dataLen, data ?? _data) with { FaultId = faultId };
        var rc = _s.HwptAlloc(cmd, out var after);
        id = after.OutHwptId;
        return rc;
    }

    private Errno CheckIotlb(uint hwpt, uint entry, uint value)
    {
        var cmd = DevCmd.Test(OpMdCheckIotlb, hwpt);
        cmd.CheckIotlb = new TestCheckIotlb { Id = entry, Iotlb = value };
        return _s.Ioctl(ref cmd);
    }

    private Errno Invalidate(uint hwpt, uint type, uint entryLen, uint count, out uint handled, params (uint Flags, uint Id)[] entries)
    {
        var array = _s.Heap.Alloc(64);
        for (var i = 0; i < entries.Length; i++)
        {
            WriteU32(array + (ulong)(8 * i), entries[i].Flags);
            WriteU32(array + (ulong)(8 * i) + 4, entries[i].Id);
        }
        var cmd = DevCmd.Invalidate(hwpt, array, type, entryLen, count);
        var rc = _s.Ioctl(ref cmd);
        handled = cmd.EntryNum;
        return rc;
    }

    [Fact]
    public void Nested_allocation_is_validated_in_the_kernels_order()
    {
        // data_type NONE with data is caught before any lookup.
        Assert.Equal(Errno.EINVAL, Nested(_parent, out _, dataType: 0));
        // The driver knows only its own data type.
        Assert.Equal(Errno.EOPNOTSUPP, Nested(_parent, out _, dataType: Mock.HwptDataSelftest + 1));
        // Shorter than iotlb, or longer than the struct: EINVAL; unreadable: EFAULT.
        Assert.Equal(Errno.EINVAL, Nested(_parent, out _, dataLen: 3));
        Assert.Equal(Errno.EINVAL, Nested(_parent, out _, dataLen: 9));
        Assert.Equal(Errno.EFAULT, Nested(_parent, out _, data: UserHeap.UnmappedPointer));
        // Paging-only flags are refused for nesting.
        Assert.Equal(Errno.EOPNOTSUPP, Nested(_parent, out _, flags: Mock.HwptNestParent));
        Assert.Equal(Errno.EOPNOTSUPP, Nested(_parent, out _, flags: Mock.HwptDirtyTracking));
        // The parent must be a manual NEST_PARENT paging HWPT.
        var plain = _s.AllocHwpt(_dev.Idev, _ioas);
        Assert.Equal(Errno.EINVAL, Nested(plain, out _));
        Assert.Equal(Errno.EINVAL, Nested(_dev.Hwpt, out _)); // the automatic one
        Assert.Equal(Errno.Ok, Nested(_parent, out var nested));
        // Not on a nested HWPT, nor on a device.
        Assert.Equal(Errno.EINVAL, Nested(nested, out _));
        Assert.Equal(Errno.EINVAL, Nested(_dev.Idev, out _));
    }

    [Fact]
    public void A_nested_hwpt_holds_its_parent_and_starts_with_the_given_iotlb()
    {
        WriteU32(_data, 0x1234);
        Assert.Equal(Errno.Ok, Nested(_parent, out var nested, dataLen: 4));
        for (var i = 0u; i < 4; i++)
            Assert.Equal(Errno.Ok, CheckIotlb(nested, i, 0x1234));
        Assert.Equal(Errno.EINVAL, CheckIotlb(nested, 0, IotlbDefault));
        Assert.Equal(Errno.EINVAL, CheckIotlb(nested, 4, 0x1234));
        // Only nested HWPTs have an IOTLB to check.
        Assert.Equal(Errno.ENOENT, CheckIotlb(_parent, 0, 0x1234));
        Assert.Equal(Errno.EBUSY, _s.Destroy(_parent));
        Assert.Equal(Errno.Ok, _s.Destroy(nested));
        Assert.Equal(Errno.Ok, _s.Destroy(_parent));
    }

    [Fact]
    public void Invalidation_reports_how_many_entries_were_done()
    {
        Assert.Equal(Errno.Ok, Nested(_parent, out var nested));
        // A paging HWPT takes no invalidation.
        Assert.Equal(Errno.EINVAL, Invalidate(_parent, InvalidateSelftest, 8, 1, out var handled, (0, 0)));
        Assert.Equal(0u, handled);
        // The type is checked even for an empty array.
        Assert.Equal(Errno.Ok, Invalidate(nested, InvalidateSelftest, 8, 0, out handled));
        Assert.Equal(Errno.EINVAL, Invalidate(nested, InvalidateSelftest + 1, 8, 1, out handled, (0, 0)));
        Assert.Equal(0u, handled);
        Assert.Equal(Errno.EINVAL, Invalidate(nested, InvalidateSelftest, 9, 1, out handled, (0, 0)));
        Assert.Equal(Errno.EINVAL, Invalidate(nested, InvalidateSelftest, 1, 1, out handled, (0, 0)));
        Assert.Equal(Errno.EOPNOTSUPP, Invalidate(nested, InvalidateSelftest, 8, 1, out handled, (0xffff_ffff, 0)));
        Assert.Equal(Errno.EINVAL, Invalidate(nested, InvalidateSelftest, 8, 1, out handled, (0, 4)));
        for (var i = 0u; i < 4; i++)
            Assert.Equal(Errno.Ok, CheckIotlb(nested, i, IotlbDefault));

        // The first entry is done, the second fails: entry_num says 1.
        Assert.Equal(Errno.EOPNOTSUPP, Invalidate(nested, InvalidateSelftest, 8, 2, out handled, (0, 0), (0xffff_ffff, 1)));
        Assert.Equal(1u, handled);
        Assert.Equal(Errno.Ok, CheckIotlb(nested, 0, 0));
        Assert.Equal(Errno.Ok, CheckIotlb(nested, 1, IotlbDefault));
        // A 4-byte entry is zero-extended: iotlb_id 0.
        Assert.Equal(Errno.Ok, Invalidate(nested, InvalidateSelftest, 4, 1, out handled, (0, 3)));
        Assert.Equal(Errno.Ok, Invalidate(nested, InvalidateSelftest, 8, 2, out handled, (0, 2), (0, 3)));
        Assert.Equal(2u, handled);
        Assert.Equal(Errno.Ok, CheckIotlb(nested, 1, IotlbDefault));
        Assert.Equal(Errno.Ok, Invalidate(nested, InvalidateSelftest, 8, 1, out handled, (1, 99)));
        Assert.Equal(Errno.Ok, CheckIotlb(nested, 1, 0));
    }

    [Fact]
    public void Devices_attach_and_move_between_nested_hwpts_and_their_parent()
    {
        Assert.Equal(Errno.Ok, Nested(_parent, out var first));
        Assert.Equal(Errno.Ok, Nested(_parent, out var second));
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, first, out _));
        Assert.Equal(Errno.EBUSY, _s.Destroy(first));
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, second, out _));
        Assert.Equal(Errno.Ok, _s.Destroy(first));
        // A new device can attach straight to a nested HWPT.
        var other = _s.AddMock(second);
        Assert.Equal(second, other.Hwpt);
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, _parent, out _));
        Assert.Equal(Errno.Ok, _s.Destroy(other.Stdev));
        Assert.Equal(Errno.Ok, _s.Destroy(second));
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, _ioas, out _));
        Assert.Equal(Errno.Ok, _s.Destroy(_parent));
    }
}
