using System.Buffers.Binary;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// The VFIO type1 container calls on the compatibility IOAS (vfio_compat.c): SET_IOMMU v1 turns
/// huge pages off so UNMAP_DMA may cut a mapping, v2 refuses to; UNMAP_FLAG_ALL needs iova and
/// size 0; GET_INFO reports page sizes and a capability chain and never writes past argsz.
/// </summary>
public sealed class VfioType1Tests : IDisposable
{
    private const uint SetIommu = 0x3b66, GetInfo = 0x3b70, MapDma = 0x3b71, UnmapDma = 0x3b72;
    private const ulong Type1 = 1, Type1v2 = 3;
    private const ulong Iova = Mock.ApertureStart;
    private const ulong Size = 0x40_0000;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;

    public VfioType1Tests()
    {
        _ioas = _s.AllocIoas();
        _s.AddMock(_ioas);
        Assert.Equal(Errno.Ok, _s.VfioIoas(Mock.VfioIoasSet, _ioas, out _));
    }

    public void Dispose() => _s.Dispose();

    private void Map(ulong iova, ulong user, ulong size)
    {
        var cmd = new byte[32];
        BinaryPrimitives.WriteUInt32LittleEndian(cmd, 32);
        BinaryPrimitives.WriteUInt32LittleEndian(cmd.AsSpan(4), 3); // READ | WRITE
        BinaryPrimitives.WriteUInt64LittleEndian(cmd.AsSpan(8), user);
        BinaryPrimitives.WriteUInt64LittleEndian(cmd.AsSpan(16), iova);
        BinaryPrimitives.WriteUInt64LittleEndian(cmd.AsSpan(24), size);
        var at = _s.Heap.Alloc(32);
        _s.Heap.WriteBytes(at, cmd);
        Assert.Equal(Errno.Ok, _s.Ioctl(MapDma, at));
    }

    private Errno Unmap(ulong iova, ulong size, uint flags, out ulong unmapped)
    {
        var cmd = new byte[24];
        BinaryPrimitives.WriteUInt32LittleEndian(cmd, 24);
        BinaryPrimitives.WriteUInt32LittleEndian(cmd.AsSpan(4), flags);
        BinaryPrimitives.WriteUInt64LittleEndian(cmd.AsSpan(8), iova);
        BinaryPrimitives.WriteUInt64LittleEndian(cmd.AsSpan(16), size);
        var at = _s.Heap.Alloc(24);
        _s.Heap.WriteBytes(at, cmd);
        var rc = _s.Ioctl(UnmapDma, at);
        unmapped = _s.Heap.Read<ulong>(at + 16);
        return rc;
    }

    [Fact]
    public void Version_1_cuts_a_mapping_and_turns_huge_pages_off()
    {
        Assert.Equal(Errno.Ok, _s.Ioctl(SetIommu, Type1));
        Assert.Equal(0UL, _s.GetOption(Header.OptionHugePages, _ioas));
        var user = _s.Heap.Alloc(Size);
        Map(Iova, user, Size);
        Assert.Equal(Errno.Ok, Unmap(Iova + Size / 2, Size / 16, 0, out var unmapped));
        Assert.Equal(Size / 16, unmapped);
        Assert.Equal(Errno.Ok, Unmap(Iova, Size / 16, 0, out unmapped));
        Assert.Equal(Errno.Ok, Unmap(Iova + Size - Size / 16, Size / 16, 0, out unmapped));
        // What is left still translates to the same memory, and goes at once.
        Assert.Equal(user + Size / 4, _s.Translate(_ioas, Iova + Size / 4, out _));
        Assert.Equal(Errno.Ok, Unmap(0, 0, 2, out unmapped));
        Assert.Equal(Size - 3 * Size / 16, unmapped);
        Assert.Equal(0UL, _s.Heap.Memory.PinnedPages);
    }

    [Fact]
    public void Version_2_refuses_to_cut_and_keeps_huge_pages()
    {
        Assert.Equal(Errno.Ok, _s.Ioctl(SetIommu, Type1v2));
        Assert.Equal(1UL, _s.GetOption(Header.OptionHugePages, _ioas));
        Map(Iova, _s.Heap.Alloc(Size), Size);
        Assert.Equal(Errno.ENOENT, Unmap(Iova + Size / 2, Size / 16, 0, out var unmapped));
        Assert.Equal(0UL, unmapped);
        Assert.Equal(Errno.Ok, Unmap(Iova, Size, 0, out unmapped));
        Assert.Equal(Size, unmapped);
    }

    [Fact]
    public void Unmap_all_needs_a_zero_range()
    {
        Assert.Equal(Errno.Ok, _s.Ioctl(SetIommu, Type1v2));
        Map(Iova, _s.Heap.Alloc(Size), Size);
        Assert.Equal(Errno.EINVAL, Unmap(Iova, Size, 2, out _));
        Assert.Equal(Errno.EINVAL, Unmap(0, Size, 2, out _));
        Assert.Equal(Errno.Ok, Unmap(0, 0, 2, out var unmapped));
        Assert.Equal(Size, unmapped);
    }

    [Fact]
    public void Get_info_reports_a_capability_chain_and_writes_nothing_past_argsz()
    {
        Assert.Equal(Errno.Ok, _s.Ioctl(SetIommu, Type1v2));
        var buffer = _s.Heap.Alloc(0x1000);
        byte[] Call(uint argsz)
        {
            var fill = Enumerable.Repeat((byte)0xAA, 0x100).ToArray();
            BinaryPrimitives.WriteUInt32LittleEndian(fill, argsz);
            _s.Heap.WriteBytes(buffer, fill);
            Assert.Equal(Errno.Ok, _s.Ioctl(GetInfo, buffer));
            var after = _s.Heap.ReadBytes(buffer, 0x100);
            Assert.All(after[(int)argsz..], b => Assert.Equal(0xAA, b));
            return after;
        }

        Assert.Equal(Errno.EINVAL, _s.Ioctl(GetInfo, _s.Heap.Place(15u)));
        var shortInfo = Call(16);
        Assert.Equal(3u, BinaryPrimitives.ReadUInt32LittleEndian(shortInfo.AsSpan(4))); // PGSIZES | CAPS
        Assert.NotEqual(0UL, BinaryPrimitives.ReadUInt64LittleEndian(shortInfo.AsSpan(8)));
        var total = BinaryPrimitives.ReadUInt32LittleEndian(shortInfo);
        Assert.Equal(24u + 16 + 32, total); // info, DMA_AVAIL (12 -> 16), IOVA_RANGE with one range

        for (var argsz = 24u; argsz < total; argsz++)
            Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(Call(argsz).AsSpan(16)));

        var full = Call(total);
        Assert.Equal(24u, BinaryPrimitives.ReadUInt32LittleEndian(full.AsSpan(16)));
        Assert.Equal(3, BinaryPrimitives.ReadUInt16LittleEndian(full.AsSpan(24))); // DMA_AVAIL
        Assert.Equal(40u, BinaryPrimitives.ReadUInt32LittleEndian(full.AsSpan(28)));
        Assert.Equal(uint.MaxValue, BinaryPrimitives.ReadUInt32LittleEndian(full.AsSpan(32)));
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(full.AsSpan(40))); // IOVA_RANGE
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(full.AsSpan(44)));
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(full.AsSpan(48)));
        Assert.Equal(Mock.ApertureStart, BinaryPrimitives.ReadUInt64LittleEndian(full.AsSpan(56)));
        Assert.Equal(Mock.ApertureLast, BinaryPrimitives.ReadUInt64LittleEndian(full.AsSpan(64)));
    }
}
