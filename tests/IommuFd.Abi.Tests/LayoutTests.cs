using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;

namespace IommuFd.Abi.Tests;

/// <summary>The byte layout of every IOAS uAPI struct and the ioctl numbers, as in iommufd.h.</summary>
public sealed class LayoutTests
{
    [Theory]
    [InlineData(typeof(IommuDestroy), Header.DestroySize)]
    [InlineData(typeof(IommuIoasAlloc), Header.IoasAllocSize)]
    [InlineData(typeof(IommuIovaRange), Header.IovaRangeSize)]
    [InlineData(typeof(IommuIoasIovaRanges), Header.IoasIovaRangesSize)]
    [InlineData(typeof(IommuIoasAllowIovas), Header.IoasAllowIovasSize)]
    [InlineData(typeof(IommuIoasMap), Header.IoasMapSize)]
    [InlineData(typeof(IommuIoasCopy), Header.IoasCopySize)]
    [InlineData(typeof(IommuIoasUnmap), Header.IoasUnmapSize)]
    [InlineData(typeof(IommuOption), Header.OptionSize)]
    public void Struct_has_the_kernel_size(Type type, int size)
    {
        Assert.Equal(size, Marshal.SizeOf(type));
        Assert.Equal(size, SizeOf(type));
    }

    [Theory]
    [InlineData(typeof(IommuDestroy), nameof(IommuDestroy.Size), 0)]
    [InlineData(typeof(IommuDestroy), nameof(IommuDestroy.Id), 4)]
    [InlineData(typeof(IommuIoasAlloc), nameof(IommuIoasAlloc.Size), 0)]
    [InlineData(typeof(IommuIoasAlloc), nameof(IommuIoasAlloc.Flags), 4)]
    [InlineData(typeof(IommuIoasAlloc), nameof(IommuIoasAlloc.OutIoasId), 8)]
    [InlineData(typeof(IommuIovaRange), nameof(IommuIovaRange.Start), 0)]
    [InlineData(typeof(IommuIovaRange), nameof(IommuIovaRange.Last), 8)]
    [InlineData(typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.Size), 0)]
    [InlineData(typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.IoasId), 4)]
    [InlineData(typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.NumIovas), 8)]
    [InlineData(typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.Reserved), 12)]
    [InlineData(typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.AllowedIovas), 16)]
    [InlineData(typeof(IommuIoasIovaRanges), nameof(IommuIoasIovaRanges.OutIovaAlignment), 24)]
    [InlineData(typeof(IommuIoasAllowIovas), nameof(IommuIoasAllowIovas.Size), 0)]
    [InlineData(typeof(IommuIoasAllowIovas), nameof(IommuIoasAllowIovas.IoasId), 4)]
    [InlineData(typeof(IommuIoasAllowIovas), nameof(IommuIoasAllowIovas.NumIovas), 8)]
    [InlineData(typeof(IommuIoasAllowIovas), nameof(IommuIoasAllowIovas.Reserved), 12)]
    [InlineData(typeof(IommuIoasAllowIovas), nameof(IommuIoasAllowIovas.AllowedIovas), 16)]
    [InlineData(typeof(IommuIoasMap), nameof(IommuIoasMap.Size), 0)]
    [InlineData(typeof(IommuIoasMap), nameof(IommuIoasMap.Flags), 4)]
    [InlineData(typeof(IommuIoasMap), nameof(IommuIoasMap.IoasId), 8)]
    [InlineData(typeof(IommuIoasMap), nameof(IommuIoasMap.Reserved), 12)]
    [InlineData(typeof(IommuIoasMap), nameof(IommuIoasMap.UserVa), 16)]
    [InlineData(typeof(IommuIoasMap), nameof(IommuIoasMap.Length), 24)]
    [InlineData(typeof(IommuIoasMap), nameof(IommuIoasMap.Iova), 32)]
    [InlineData(typeof(IommuIoasCopy), nameof(IommuIoasCopy.Size), 0)]
    [InlineData(typeof(IommuIoasCopy), nameof(IommuIoasCopy.Flags), 4)]
    [InlineData(typeof(IommuIoasCopy), nameof(IommuIoasCopy.DstIoasId), 8)]
    [InlineData(typeof(IommuIoasCopy), nameof(IommuIoasCopy.SrcIoasId), 12)]
    [InlineData(typeof(IommuIoasCopy), nameof(IommuIoasCopy.Length), 16)]
    [InlineData(typeof(IommuIoasCopy), nameof(IommuIoasCopy.DstIova), 24)]
    [InlineData(typeof(IommuIoasCopy), nameof(IommuIoasCopy.SrcIova), 32)]
    [InlineData(typeof(IommuIoasUnmap), nameof(IommuIoasUnmap.Size), 0)]
    [InlineData(typeof(IommuIoasUnmap), nameof(IommuIoasUnmap.IoasId), 4)]
    [InlineData(typeof(IommuIoasUnmap), nameof(IommuIoasUnmap.Iova), 8)]
    [InlineData(typeof(IommuIoasUnmap), nameof(IommuIoasUnmap.Length), 16)]
    [InlineData(typeof(IommuOption), nameof(IommuOption.Size), 0)]
    [InlineData(typeof(IommuOption), nameof(IommuOption.OptionId), 4)]
    [InlineData(typeof(IommuOption), nameof(IommuOption.Op), 8)]
    [InlineData(typeof(IommuOption), nameof(IommuOption.Reserved), 10)]
    [InlineData(typeof(IommuOption), nameof(IommuOption.ObjectId), 12)]
    [InlineData(typeof(IommuOption), nameof(IommuOption.Val64), 16)]
    public void Field_is_at_the_kernel_offset(Type type, string field, int offset) =>
        Assert.Equal(offset, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void Field_offsets_hold_for_the_in_memory_layout_too()
    {
        // Marshal.OffsetOf describes the marshalled layout; the dispatcher reinterprets raw bytes,
        // so check the managed layout of the two structs with mixed field widths as well.
        var map = default(IommuIoasMap);
        Assert.Equal(32, (int)Unsafe.ByteOffset(ref Unsafe.As<IommuIoasMap, byte>(ref map), ref Unsafe.As<ulong, byte>(ref map.Iova)));
        var option = default(IommuOption);
        Assert.Equal(10, (int)Unsafe.ByteOffset(ref Unsafe.As<IommuOption, byte>(ref option), ref Unsafe.As<ushort, byte>(ref option.Reserved)));
        Assert.Equal(16, (int)Unsafe.ByteOffset(ref Unsafe.As<IommuOption, byte>(ref option), ref Unsafe.As<ulong, byte>(ref option.Val64)));
        var ranges = default(IommuIoasIovaRanges);
        Assert.Equal(24, (int)Unsafe.ByteOffset(ref Unsafe.As<IommuIoasIovaRanges, byte>(ref ranges), ref Unsafe.As<ulong, byte>(ref ranges.OutIovaAlignment)));
    }

    [Theory]
    [InlineData(IoctlNumbers.Destroy, Header.Destroy)]
    [InlineData(IoctlNumbers.IoasAlloc, Header.IoasAlloc)]
    [InlineData(IoctlNumbers.IoasAllowIovas, Header.IoasAllowIovas)]
    [InlineData(IoctlNumbers.IoasCopy, Header.IoasCopy)]
    [InlineData(IoctlNumbers.IoasIovaRanges, Header.IoasIovaRanges)]
    [InlineData(IoctlNumbers.IoasMap, Header.IoasMap)]
    [InlineData(IoctlNumbers.IoasUnmap, Header.IoasUnmap)]
    [InlineData(IoctlNumbers.Option, Header.Option)]
    public void Ioctl_number_is_IO_semicolon_nr(uint nr, uint expected)
    {
        Assert.Equal(expected, IoctlNumbers.Io(nr));
        Assert.Equal(expected, 0x3b00u | nr);
    }

    [Theory]
    [InlineData(Header.Destroy, Header.DestroySize)]
    [InlineData(Header.IoasAlloc, Header.IoasAllocSize)]
    [InlineData(Header.IoasAllowIovas, Header.IoasAllowIovasSize)]
    [InlineData(Header.IoasCopy, Header.IoasCopySize)]
    [InlineData(Header.IoasIovaRanges, Header.IoasIovaRangesSize)]
    [InlineData(Header.IoasMap, Header.IoasMapSize)]
    [InlineData(Header.IoasUnmap, Header.IoasUnmapSize)]
    [InlineData(Header.Option, Header.OptionSize)]
    public void Dispatch_table_row_has_the_kernel_size_and_minimum(uint command, int size)
    {
        var op = IoctlTable.Find(command);
        Assert.NotNull(op);
        Assert.Equal(command, op.Number);
        Assert.Equal(size, op.Size);
        // For every IOAS command the last field is also the last member, so offsetofend == sizeof.
        Assert.Equal(size, op.MinSize);
    }

    private static int SizeOf(Type type) =>
        (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
}
