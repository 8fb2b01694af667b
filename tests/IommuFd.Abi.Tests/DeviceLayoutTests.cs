using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;

namespace IommuFd.Abi.Tests;

/// <summary>Byte layout and dispatch rows of the device, HWPT, vIOMMU and self-test structs (iommufd.h, iommufd_test.h).</summary>
public sealed class DeviceLayoutTests
{
    [Theory]
    [InlineData(typeof(IommuVfioIoas), Header.VfioIoasSize)]
    [InlineData(typeof(IommuHwptAlloc), Header.HwptAllocSize)]
    [InlineData(typeof(IommuHwInfo), Header.HwInfoSize)]
    [InlineData(typeof(IommuHwptInvalidate), Header.HwptInvalidateSize)]
    [InlineData(typeof(IommuIoasMapFile), Header.IoasMapFileSize)]
    [InlineData(typeof(IommuViommuAlloc), Header.ViommuAllocSize)]
    [InlineData(typeof(IommuVdeviceAlloc), Header.VdeviceAllocSize)]
    [InlineData(typeof(IommuIoasChangeProcess), Header.IoasChangeProcessSize)]
    [InlineData(typeof(IommuTestCmd), Header.TestCmdSize)]
    [InlineData(typeof(IommuFaultAlloc), Header.FaultAllocSize)]
    [InlineData(typeof(IommuHwptPgfault), 40)]
    [InlineData(typeof(IommuHwptPageResponse), 8)]
    public void Struct_has_the_kernel_size(Type type, int size)
    {
        Assert.Equal(size, Marshal.SizeOf(type));
        Assert.Equal(size, (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!);
    }

    [Theory]
    [InlineData(typeof(IommuVfioIoas), nameof(IommuVfioIoas.IoasId), 4)]
    [InlineData(typeof(IommuVfioIoas), nameof(IommuVfioIoas.Op), 8)]
    [InlineData(typeof(IommuVfioIoas), nameof(IommuVfioIoas.Reserved), 10)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.Flags), 4)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.DevId), 8)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.PtId), 12)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.OutHwptId), 16)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.Reserved), 20)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.DataType), 24)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.DataLen), 28)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.DataUptr), 32)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.FaultId), 40)]
    [InlineData(typeof(IommuHwptAlloc), nameof(IommuHwptAlloc.Reserved2), 44)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.Flags), 4)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.DevId), 8)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.DataLen), 12)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.DataUptr), 16)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.DataType), 24)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.OutMaxPasidLog2), 28)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.Reserved0), 29)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.Reserved2), 31)]
    [InlineData(typeof(IommuHwInfo), nameof(IommuHwInfo.OutCapabilities), 32)]
    [InlineData(typeof(IommuFaultAlloc), nameof(IommuFaultAlloc.OutFaultId), 8)]
    [InlineData(typeof(IommuFaultAlloc), nameof(IommuFaultAlloc.OutFaultFd), 12)]
    [InlineData(typeof(IommuHwptPgfault), nameof(IommuHwptPgfault.Perm), 16)]
    [InlineData(typeof(IommuHwptPgfault), nameof(IommuHwptPgfault.Addr), 24)]
    [InlineData(typeof(IommuHwptPgfault), nameof(IommuHwptPgfault.Length), 32)]
    [InlineData(typeof(IommuHwptPgfault), nameof(IommuHwptPgfault.Cookie), 36)]
    [InlineData(typeof(IommuHwptPageResponse), nameof(IommuHwptPageResponse.Code), 4)]
    [InlineData(typeof(IommuHwptInvalidate), nameof(IommuHwptInvalidate.HwptId), 4)]
    [InlineData(typeof(IommuHwptInvalidate), nameof(IommuHwptInvalidate.DataUptr), 8)]
    [InlineData(typeof(IommuHwptInvalidate), nameof(IommuHwptInvalidate.DataType), 16)]
    [InlineData(typeof(IommuHwptInvalidate), nameof(IommuHwptInvalidate.EntryLen), 20)]
    [InlineData(typeof(IommuHwptInvalidate), nameof(IommuHwptInvalidate.EntryNum), 24)]
    [InlineData(typeof(IommuHwptInvalidate), nameof(IommuHwptInvalidate.Reserved), 28)]
    [InlineData(typeof(IommuViommuAlloc), nameof(IommuViommuAlloc.Type), 8)]
    [InlineData(typeof(IommuViommuAlloc), nameof(IommuViommuAlloc.DevId), 12)]
    [InlineData(typeof(IommuViommuAlloc), nameof(IommuViommuAlloc.HwptId), 16)]
    [InlineData(typeof(IommuViommuAlloc), nameof(IommuViommuAlloc.OutViommuId), 20)]
    [InlineData(typeof(IommuViommuAlloc), nameof(IommuViommuAlloc.DataLen), 24)]
    [InlineData(typeof(IommuViommuAlloc), nameof(IommuViommuAlloc.DataUptr), 32)]
    [InlineData(typeof(IommuVdeviceAlloc), nameof(IommuVdeviceAlloc.ViommuId), 4)]
    [InlineData(typeof(IommuVdeviceAlloc), nameof(IommuVdeviceAlloc.DevId), 8)]
    [InlineData(typeof(IommuVdeviceAlloc), nameof(IommuVdeviceAlloc.OutVdeviceId), 12)]
    [InlineData(typeof(IommuVdeviceAlloc), nameof(IommuVdeviceAlloc.VirtId), 16)]
    [InlineData(typeof(IommuTestCmd), nameof(IommuTestCmd.Op), 4)]
    [InlineData(typeof(IommuTestCmd), nameof(IommuTestCmd.Id), 8)]
    [InlineData(typeof(IommuTestCmd), nameof(IommuTestCmd.AddReserved), 16)]
    [InlineData(typeof(IommuTestCmd), nameof(IommuTestCmd.Last), 64)]
    public void Field_is_at_the_kernel_offset(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Theory]
    [InlineData(typeof(TestMockDomain), nameof(TestMockDomain.OutStdevId), 0)]
    [InlineData(typeof(TestMockDomain), nameof(TestMockDomain.OutHwptId), 4)]
    [InlineData(typeof(TestMockDomain), nameof(TestMockDomain.OutIdevId), 8)]
    [InlineData(typeof(TestMockDomain), nameof(TestMockDomain.DevFlags), 12)]
    [InlineData(typeof(TestCheckMap), nameof(TestCheckMap.Length), 8)]
    [InlineData(typeof(TestCheckMap), nameof(TestCheckMap.Uptr), 16)]
    [InlineData(typeof(TestCheckRefs), nameof(TestCheckRefs.Uptr), 8)]
    [InlineData(typeof(TestCheckRefs), nameof(TestCheckRefs.Refs), 16)]
    [InlineData(typeof(TestCheckDevCache), nameof(TestCheckDevCache.Cache), 4)]
    [InlineData(typeof(TestAddReserved), nameof(TestAddReserved.Length), 8)]
    public void Union_member_field_is_at_the_kernel_offset_past_16(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void Union_members_overlay_at_16_in_memory()
    {
        var cmd = default(IommuTestCmd);
        ref var b = ref Unsafe.As<IommuTestCmd, byte>(ref cmd);
        Assert.Equal(16, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<TestMockDomain, byte>(ref cmd.MockDomain)));
        Assert.Equal(24, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<ulong, byte>(ref cmd.CheckMap.Length)));
        Assert.Equal(32, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<uint, byte>(ref cmd.CheckRefs.Refs)));
        Assert.Equal(20, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<uint, byte>(ref cmd.CheckDevCache.Cache)));
        Assert.Equal(64, (int)Unsafe.ByteOffset(ref b, ref Unsafe.As<uint, byte>(ref cmd.Last)));
    }

    [Theory]
    [InlineData(Header.VfioIoas, 12, 12)]
    [InlineData(Header.HwptAlloc, 48, 24)]
    [InlineData(Header.GetHwInfo, 40, 32)]
    [InlineData(Header.HwptInvalidate, 32, 32)]
    [InlineData(Header.ViommuAlloc, 40, 24)]
    [InlineData(Header.VdeviceAlloc, 24, 24)]
    [InlineData(Header.IoasChangeProcess, 8, 8)]
    [InlineData(Header.TestCmd, 72, 68)]
    public void Dispatch_table_row_has_the_kernel_size_and_minimum(uint command, int size, int minSize)
    {
        var op = IoctlTable.Find(command);
        Assert.NotNull(op);
        Assert.Equal(command, op.Number);
        Assert.Equal(size, op.Size);
        Assert.Equal(minSize, op.MinSize);
    }

    [Theory]
    [InlineData(IoctlNumbers.VfioIoas, Header.VfioIoas)]
    [InlineData(IoctlNumbers.HwptAlloc, Header.HwptAlloc)]
    [InlineData(IoctlNumbers.GetHwInfo, Header.GetHwInfo)]
    [InlineData(IoctlNumbers.HwptInvalidate, Header.HwptInvalidate)]
    [InlineData(IoctlNumbers.IoasMapFile, Header.IoasMapFile)]
    [InlineData(IoctlNumbers.ViommuAlloc, Header.ViommuAlloc)]
    [InlineData(IoctlNumbers.VdeviceAlloc, Header.VdeviceAlloc)]
    [InlineData(IoctlNumbers.IoasChangeProcess, Header.IoasChangeProcess)]
    [InlineData(IoctlNumbers.TestCmd, Header.TestCmd)]
    public void Ioctl_number_is_IO_semicolon_nr(uint nr, uint expected) =>
        Assert.Equal(expected, IoctlNumbers.Io(nr));
}
