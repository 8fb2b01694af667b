using System.Buffers.Binary;
using IommuFd.Core.Dma;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Hardware;
using IommuFd.Core.Machines;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Dma;

namespace IommuFd.Core.Tests.Hardware;

/// <summary>
/// A VT-d stage-1 nested HWPT as hardware does it: the program's x86-64 tables sit in its memory at stage-2
/// input addresses and the walk reads them there; edits reach devices only through VTD_S1 invalidations.
/// </summary>
public sealed class VtdNestedTests : IDisposable
{
    private const ulong Ipa = 0x8000_0000; // stage-2 input of user memory offset 0
    private const ulong GuestIova = 0x4000_0000; // PML4[0] → PDPT[1] → PD[0] → PT[0]
    private const ulong Table = 0x27, Page = 0x7, ReadOnlyPage = 0x5; // x86: P|R/W|U/S(|A)

    private readonly HardwareRig _rig = new(IommuModel.IntelVtd);
    private readonly HwptId _parent;

    public VtdNestedTests()
    {
        _rig.Alloc(HwptAllocFlags.NestParent, out _parent).ThrowIfError("parent");
        var ipa = Ipa;
        _rig.Context.Map(_rig.Ioas, HardwareRig.UserBase, 0x10_0000, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref ipa).ThrowIfError("s2 map");
        Entry(0x0000, 0, Ipa + 0x1000 | Table);
        Entry(0x1000, 1, Ipa + 0x2000 | Table);
        Entry(0x2000, 0, Ipa + 0x3000 | Table);
        Entry(0x2000, 1, 0xdead_0000 | Table); // a table stage 2 does not translate
        Entry(0x3000, 0, Ipa + 0x10000 | Page);
        Entry(0x3000, 1, Ipa + 0x11000 | ReadOnlyPage);
        for (var page = 0UL; page < 3; page++)
            _rig.Memory.Write(HardwareRig.UserBase + 0x10000 + page * 0x1000, Enumerable.Repeat((byte)(0xa0 + page), 16).ToArray()).ThrowIfError("fill");
    }

    public void Dispose() => _rig.Dispose();

    private void Entry(ulong tableOffset, int index, ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        _rig.Memory.Write(HardwareRig.UserBase + tableOffset + (ulong)index * 8, bytes).ThrowIfError("entry");
    }

    private static ManagedDriverData StageOne(ulong flags = 0, ulong table = Ipa, uint width = 48, int length = VtdNestedDomain.DataLength, byte tail = 0)
    {
        var bytes = new byte[Math.Max(length, VtdNestedDomain.DataLength)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, flags);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), table);
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(16), width);
        if (length > VtdNestedDomain.DataLength)
            bytes[^1] = tail;
        return new ManagedDriverData(VtdNestedDomain.DataType, bytes[..length]);
    }

    private DmaPort AttachNested(out HwptId nested)
    {
        _rig.Context.AllocHwpt(_rig.DeviceId, _parent, HwptAllocFlags.None, StageOne(), out nested).ThrowIfError("nested");
        _rig.Context.AttachDevice(_rig.DeviceId, nested, out _).ThrowIfError("attach");
        return _rig.Machine.Device("dma0").Iommu.OpenDma(_rig.Context, _rig.Device, new RecordingDeviceModel());
    }

    private static byte ReadByte(DmaPort port, ulong iova)
    {
        var one = new byte[1];
        Assert.True(port.Read(iova, one).Completed);
        return one[0];
    }

    [Fact]
    public void The_walk_reads_the_programs_tables_through_stage_two()
    {
        var port = AttachNested(out _);
        Assert.Equal(0xa0, ReadByte(port, GuestIova + 5));
        Assert.Equal(0xa1, ReadByte(port, GuestIova + 0x1005));
        var refused = port.Write(GuestIova + 0x1000, new byte[1]);
        Assert.Equal(DmaFaultReason.NoPermission, refused.Fault?.Reason);
        var lost = port.Read(GuestIova + 0x20_0000, new byte[1]);
        Assert.Equal((DmaFaultReason.StageOneTableNotMapped, 2), (lost.Fault?.Reason, lost.Fault?.Stage));
        var unmapped = port.Read(GuestIova + 0x2000, new byte[1]);
        Assert.Equal((DmaFaultReason.NotMapped, 1), (unmapped.Fault?.Reason, unmapped.Fault?.Stage));
    }

    [Fact]
    public void An_edit_is_seen_only_after_a_vtd_s1_invalidation()
    {
        var port = AttachNested(out var nested);
        Assert.Equal(0xa0, ReadByte(port, GuestIova));
        Entry(0x3000, 0, Ipa + 0x12000 | Page);
        Assert.Equal(0xa0, ReadByte(port, GuestIova)); // stale IOTLB entry, as on hardware
        // Another page's invalidation leaves it; its own drops it.
        _rig.Context.InvalidateHwpt(nested, new VtdInvalidation((GuestIova + 0x1000, 1, 0, 0)), out var handled).ThrowIfError("inv");
        Assert.Equal((1u, (byte)0xa0), (handled, ReadByte(port, GuestIova)));
        _rig.Context.InvalidateHwpt(nested, new VtdInvalidation((GuestIova, 1, VtdNestedDomain.InvalidateLeaf, 0)), out _).ThrowIfError("inv");
        Assert.Equal(0xa2, ReadByte(port, GuestIova));
        Entry(0x3000, 0, Ipa + 0x10000 | Page);
        _rig.Context.InvalidateHwpt(nested, new VtdInvalidation((0, ulong.MaxValue, 0, 0)), out _).ThrowIfError("inv all");
        Assert.Equal(0xa0, ReadByte(port, GuestIova));
    }

    [Fact]
    public void Bad_invalidations_stop_at_the_entry_with_the_kernels_errno()
    {
        AttachNested(out var nested);
        Assert.Equal(Errno.EOPNOTSUPP, _rig.Context.InvalidateHwpt(nested, new VtdInvalidation((0, 1, 0, 0), (0, 1, 2, 0)), out var handled));
        Assert.Equal(1u, handled);
        Assert.Equal(Errno.EOPNOTSUPP, _rig.Context.InvalidateHwpt(nested, new VtdInvalidation((0, 1, 0, 1)), out _));
        Assert.Equal(Errno.EINVAL, _rig.Context.InvalidateHwpt(nested, new VtdInvalidation((0x800, 1, 0, 0)), out _));
        Assert.Equal(Errno.EINVAL, _rig.Context.InvalidateHwpt(nested, new VtdInvalidation((0x1000, ulong.MaxValue, 0, 0)), out _));
        Assert.Equal(Errno.EINVAL, _rig.Context.InvalidateHwpt(nested, new VtdInvalidation((0, 1, 0, 0)) { Type = 7 }, out handled));
        Assert.Equal(0u, handled);
    }

    [Fact]
    public void Allocation_and_attach_check_the_stage_one_data()
    {
        var context = _rig.Context;
        var device = _rig.DeviceId;
        Assert.Equal(Errno.EOPNOTSUPP, context.AllocHwpt(device, _parent, HwptAllocFlags.None, new ManagedDriverData(0xdead, new byte[24]), out _));
        Assert.Equal(Errno.EINVAL, context.AllocHwpt(device, _parent, HwptAllocFlags.None, StageOne(length: 16), out _));
        Assert.Equal(Errno.E2BIG, context.AllocHwpt(device, _parent, HwptAllocFlags.None, StageOne(length: 32, tail: 1), out _));
        Assert.Equal(Errno.Ok, context.AllocHwpt(device, _parent, HwptAllocFlags.None, StageOne(length: 32), out _));
        _rig.Alloc(HwptAllocFlags.DirtyTracking, out var notParent).ThrowIfError("plain");
        Assert.Equal(Errno.EINVAL, context.AllocHwpt(device, notParent, HwptAllocFlags.None, StageOne(), out _));
        // The PASID-entry rules apply at attach: a 39-bit stage 1, supervisor requests.
        context.AllocHwpt(device, _parent, HwptAllocFlags.None, StageOne(width: 39), out var narrow).ThrowIfError("narrow");
        Assert.Equal(Errno.EINVAL, context.AttachDevice(device, narrow, out _));
        context.AllocHwpt(device, _parent, HwptAllocFlags.None, StageOne(flags: VtdNestedDomain.FlagSre), out var sre).ThrowIfError("sre");
        Assert.Equal(Errno.EINVAL, context.AttachDevice(device, sre, out _));
    }

    /// <summary>IOMMU_HWPT_INVALIDATE's VTD_S1 entries (addr, npages, flags, __reserved) in managed memory.</summary>
    private sealed class VtdInvalidation(params (ulong Address, ulong Pages, uint Flags, uint Reserved)[] entries) : IDriverArray
    {
        public uint Type { get; init; } = VtdNestedDomain.InvalidateDataType;

        public uint EntryLength => VtdNestedDomain.InvalidateLength;

        public uint Count => (uint)entries.Length;

        public Errno CopyEntry(uint index, Span<byte> destination, int minimumLength)
        {
            var (address, pages, flags, reserved) = entries[index];
            BinaryPrimitives.WriteUInt64LittleEndian(destination, address);
            BinaryPrimitives.WriteUInt64LittleEndian(destination[8..], pages);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[16..], flags);
            BinaryPrimitives.WriteUInt32LittleEndian(destination[20..], reserved);
            return Errno.Ok;
        }
    }
}
