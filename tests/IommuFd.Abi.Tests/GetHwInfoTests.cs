using System.Buffers.Binary;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>IOMMU_GET_HW_INFO (device.c iommufd_get_hw_info with the mock's hw_info).</summary>
public sealed class GetHwInfoTests : IDisposable
{
    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _dev;

    public GetHwInfoTests()
    {
        _ioas = _s.AllocIoas();
        _dev = _s.AddMock(_ioas);
    }

    public void Dispose() => _s.Dispose();

    /// <summary>A user buffer of <paramref name="length"/> bytes filled with 0xEE, followed by 8 more 0xEE bytes.</summary>
    private ulong Buffer(int length)
    {
        var data = _s.Heap.Alloc((ulong)length + 8);
        _s.Heap.WriteBytes(data, Enumerable.Repeat((byte)0xEE, length + 8).ToArray());
        return data;
    }

    // ---- checks before the lookup ----

    [Theory]
    [InlineData(1u << 1)]
    [InlineData(1u << 31)]
    [InlineData(Mock.HwInfoFlagInputType | (1u << 1))]
    public void Unknown_flag_is_EOPNOTSUPP(uint flags)
    {
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, flags: flags), out _));
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwInfo(DevCmd.HwInfo(0, flags: flags), out _));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public void Reserved_byte_is_EOPNOTSUPP(int which)
    {
        var cmd = DevCmd.HwInfo(_dev.Idev);
        cmd = which switch
        {
            0 => cmd with { Reserved0 = 1 },
            1 => cmd with { Reserved1 = 0x80 },
            _ => cmd with { Reserved2 = 0xff },
        };
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwInfo(cmd, out _));
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwInfo(cmd with { DevId = 0 }, out _));
    }

    [Fact]
    public void Unknown_device_is_ENOENT()
    {
        Assert.Equal(Errno.ENOENT, _s.HwInfo(DevCmd.HwInfo(0), out var after));
        Assert.Equal(0u, after.DataType);
        Assert.Equal(Errno.ENOENT, _s.HwInfo(DevCmd.HwInfo(999), out _));
        Assert.Equal(Errno.ENOENT, _s.HwInfo(DevCmd.HwInfo(_ioas), out _));
        Assert.Equal(Errno.ENOENT, _s.HwInfo(DevCmd.HwInfo(_dev.Stdev), out _));
        Assert.Equal(Errno.ENOENT, _s.HwInfo(DevCmd.HwInfo(_dev.Hwpt), out _));
    }

    // ---- the data ----

    [Fact]
    public void No_buffer_reports_type_and_length_only()
    {
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev), out var after));
        Assert.Equal(8u, after.DataLen);
        Assert.Equal(Mock.HwInfoTypeSelftest, after.DataType);
        Assert.Equal(0ul, after.DataUptr);
    }

    [Fact]
    public void Exact_buffer_gets_flags_0_and_test_reg()
    {
        var data = Buffer(8);
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, 8, data), out var after));
        Assert.Equal(8u, after.DataLen);
        Assert.Equal(Mock.HwInfoTypeSelftest, after.DataType);
        var bytes = _s.Heap.ReadBytes(data, 16);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(bytes)); // flags
        Assert.Equal(Mock.HwInfoTestReg, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4))); // test_reg
        Assert.All(bytes[8..], b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void Larger_buffer_gets_its_tail_zeroed_and_the_kernel_length_back()
    {
        var data = Buffer(16);
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, 16, data), out var after));
        Assert.Equal(8u, after.DataLen);
        var bytes = _s.Heap.ReadBytes(data, 24);
        Assert.Equal(Mock.HwInfoTestReg, BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(4)));
        Assert.All(bytes[8..16], b => Assert.Equal(0, b));
        Assert.All(bytes[16..], b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void Smaller_buffer_gets_only_what_fits()
    {
        var data = Buffer(4);
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, 4, data), out var after));
        Assert.Equal(8u, after.DataLen);
        var bytes = _s.Heap.ReadBytes(data, 12);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(bytes));
        Assert.All(bytes[4..], b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void Unwritable_buffer_is_EFAULT()
    {
        Assert.Equal(Errno.EFAULT, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, 8, 0), out _));
        Assert.Equal(Errno.EFAULT, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, 8, UserHeap.UnmappedPointer), out _));
        // The data fits but the zeroed tail runs into the guard page.
        var end = _s.Heap.AllocAtEnd(8);
        Assert.Equal(Errno.EFAULT, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, 16, end), out _));
    }

    // ---- the type ----

    [Fact]
    public void Input_type_selftest_is_accepted()
    {
        var data = Buffer(8);
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, 8, data, Mock.HwInfoFlagInputType, Mock.HwInfoTypeSelftest), out var after));
        Assert.Equal(Mock.HwInfoTypeSelftest, after.DataType);
        Assert.Equal(Mock.HwInfoTestReg, BinaryPrimitives.ReadUInt32LittleEndian(_s.Heap.ReadBytes(data + 4, 4)));
        // DEFAULT (0) with the flag is fine too.
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, flags: Mock.HwInfoFlagInputType), out after));
        Assert.Equal(Mock.HwInfoTypeSelftest, after.DataType);
    }

    [Theory]
    [InlineData(0xfeedbef0u)] // IOMMU_HW_INFO_TYPE_SELFTEST + 1
    [InlineData(1u)] // INTEL_VTD
    [InlineData(2u)] // ARM_SMMUV3
    public void Input_type_the_mock_does_not_know_is_EOPNOTSUPP(uint type)
    {
        var data = Buffer(8);
        Assert.Equal(Errno.EOPNOTSUPP, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, 8, data, Mock.HwInfoFlagInputType, type), out var after));
        Assert.Equal(8u, after.DataLen);
        Assert.All(_s.Heap.ReadBytes(data, 16), b => Assert.Equal(0xEE, b));
    }

    [Fact]
    public void Without_the_flag_the_input_type_is_ignored()
    {
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev, inDataType: 0xfeedbef0), out var after));
        Assert.Equal(Mock.HwInfoTypeSelftest, after.DataType);
    }

    // ---- capabilities and PASID width ----

    [Fact]
    public void Normal_device_reports_dirty_tracking_and_no_pasid()
    {
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev) with { OutCapabilities = 0xffff, OutMaxPasidLog2 = 0 }, out var after));
        Assert.Equal(Mock.HwCapDirtyTracking, after.OutCapabilities);
        Assert.Equal(0, after.OutMaxPasidLog2);
    }

    [Fact]
    public void No_dirty_device_reports_no_capabilities()
    {
        var noDirty = _s.AddMock(_ioas, Mock.DeviceNoDirty);
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(noDirty.Idev) with { OutCapabilities = 0xffff }, out var after));
        Assert.Equal(0ul, after.OutCapabilities);
        Assert.Equal(0, after.OutMaxPasidLog2);
    }

    [Fact]
    public void Pasid_device_reports_a_20_bit_pasid_width()
    {
        var pasid = _s.AddMock(_ioas, Mock.DevicePasid);
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(pasid.Idev), out var after));
        Assert.Equal(20, after.OutMaxPasidLog2);
        Assert.Equal(Mock.HwCapDirtyTracking, after.OutCapabilities);

        var both = _s.AddMock(_ioas, Mock.DevicePasid | Mock.DeviceNoDirty);
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(both.Idev), out after));
        Assert.Equal(20, after.OutMaxPasidLog2);
        Assert.Equal(0ul, after.OutCapabilities);
    }

    [Fact]
    public void Works_on_a_device_that_is_attached_anywhere()
    {
        var other = _s.AllocIoas();
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, other, out _));
        Assert.Equal(Errno.Ok, _s.HwInfo(DevCmd.HwInfo(_dev.Idev), out var after));
        Assert.Equal(Mock.HwInfoTypeSelftest, after.DataType);
    }

    // ---- the struct ----

    [Fact]
    public void Minimum_size_of_32_is_enough_and_capabilities_are_not_written_back()
    {
        var arg = _s.Heap.Alloc(64);
        _s.Heap.Write(arg, DevCmd.HwInfo(_dev.Idev) with { Size = Header.HwInfoMinSize, OutCapabilities = 0x5a5a });
        Assert.Equal(Errno.Ok, _s.IoctlAt<IommuHwInfo>(arg, out var after));
        Assert.Equal(Mock.HwInfoTypeSelftest, after.DataType);
        Assert.Equal(8u, after.DataLen);
        Assert.Equal(0x5a5aul, after.OutCapabilities);
    }

    [Fact]
    public void Size_31_is_EINVAL() =>
        Assert.Equal(Errno.EINVAL, _s.HwInfo(DevCmd.HwInfo(_dev.Idev) with { Size = 31 }, out _));
}
