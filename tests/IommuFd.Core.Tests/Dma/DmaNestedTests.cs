using System.Buffers.Binary;
using IommuFd.Core.Dma;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Machines;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Dma;

/// <summary>
/// DMA through a nested HWPT: stage 1 then stage 2, entries keyed by PASID, and the hardware
/// behaviour that matters most to a guest driver — stage-1 edits are invisible until invalidated.
/// </summary>
public sealed class DmaNestedTests : IDisposable
{
    private const ulong UserBase = 0x40_0000;
    private const ulong Ipa = 0x100_0000;
    private const ulong S1Iova = 0x7_0000_0000;

    private readonly SimulatedUserMemory _memory = new();
    private readonly IommufdContext _context;
    private readonly RecordingDeviceModel _model = new();
    private readonly DmaPort _port;
    private readonly IoasId _ioas;
    private readonly MockNestedDomain _nested;
    private readonly HwptId _nestedId;

    public DmaNestedTests()
    {
        _memory.Map(UserBase, 0x10_0000);
        _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
        // The mock driver: its nested domain keeps stage 1 in managed memory (SoftStageOne).
        var machine = new Machine(MachinePresets.ArmSmmuV3, _ => MockIommuDriver.Instance);
        var dma0 = machine.Device("dma0");
        var device = dma0.CreateDevice();
        _context.BindDevice(device, out var id).ThrowIfError("bind");
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _context.AllocHwpt(id, _ioas, HwptAllocFlags.NestParent, null, out var parent).ThrowIfError("parent");
        _context.AllocHwpt(id, parent, HwptAllocFlags.None, new ManagedDriverData(MockIommuDriver.HwptDataSelftest, new byte[4]), out _nestedId).ThrowIfError("nested");
        _context.AttachDevice(id, _nestedId, out _).ThrowIfError("attach");
        HwptNested hwpt;
        using (var hold = _context.Objects.Hold<HwptNested>(_nestedId))
        {
            hold.Status.ThrowIfError("hold");
            hwpt = hold.Value;
        }
        _nested = (MockNestedDomain)hwpt.Domain;
        _port = dma0.Iommu.OpenDma(_context, device, _model);
        // Stage 2: IPA [Ipa, +64 KiB) → user memory, the last 4 KiB read-only.
        MapStageTwo(Ipa, 0, 0xf000, IoProt.Read | IoProt.Write);
        MapStageTwo(Ipa + 0xf000, 0xf000, 0x1000, IoProt.Read);
        for (var page = 0UL; page < 16; page++)
            _memory.Write(UserBase + page * 0x1000, Tag(page)).ThrowIfError("fill");
    }

    public void Dispose() => _context.Dispose();

    private void MapStageTwo(ulong ipa, ulong userOffset, ulong length, IoProt prot) =>
        _context.Map(_ioas, UserBase + userOffset, length, prot, IovaPlacement.Fixed, ref ipa).ThrowIfError("map");

    /// <summary>Eight bytes naming page <paramref name="page"/> of user memory.</summary>
    private static byte[] Tag(ulong page)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, 0xabc0_0000 + page);
        return bytes;
    }

    private ulong ReadTag(ulong iova, uint pasid = Iotlb.NoPasid)
    {
        var bytes = new byte[8];
        var result = _port.Read(iova, bytes, pasid);
        Assert.True(result.Completed, $"DMA at 0x{iova:x} faulted: {result.Fault}");
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes) - 0xabc0_0000;
    }

    [Fact]
    public void With_stage_one_bypassed_the_iova_is_the_stage_two_input()
    {
        Assert.Equal(3UL, ReadTag(Ipa + 0x3000));
        var fault = _port.Read(Ipa + 0x10_0000, new byte[1]).Fault;
        Assert.Equal((DmaFaultReason.NotMapped, 2), (fault?.Reason, fault?.Stage));
    }

    [Fact]
    public void Stage_one_then_stage_two_reach_the_program_bytes()
    {
        _nested.StageOne.Map(Iotlb.NoPasid, S1Iova, Ipa + 0x5000, 0x2000, IoProt.Read | IoProt.Write).ThrowIfError("s1");
        Assert.Equal(5UL, ReadTag(S1Iova));
        Assert.Equal(6UL, ReadTag(S1Iova + 0x1000));
        Assert.True(_port.Write(S1Iova + 0x1008, [1, 2, 3]).Completed);
        var back = new byte[3];
        _memory.Read(UserBase + 0x6008, back).ThrowIfError("read");
        Assert.Equal([1, 2, 3], back);
        // Unmapped in stage 1: a stage-1 translation fault at that IOVA.
        var fault = _port.Read(S1Iova + 0x2000, new byte[1]).Fault;
        Assert.Equal((DmaFaultKind.Translation, DmaFaultReason.NotMapped, 1, S1Iova + 0x2000), (fault?.Kind, fault?.Reason, fault?.Stage, fault?.Iova));
    }

    [Fact]
    public void A_stage_one_edit_is_invisible_until_the_program_invalidates()
    {
        _nested.StageOne.Map(Iotlb.NoPasid, S1Iova, Ipa + 0x1000, 0x1000, IoProt.Read | IoProt.Write).ThrowIfError("s1");
        Assert.Equal(1UL, ReadTag(S1Iova));

        // The guest points the page elsewhere but does not invalidate: the device still sees page 1.
        _nested.StageOne.Unmap(Iotlb.NoPasid, S1Iova, 0x1000);
        _nested.StageOne.Map(Iotlb.NoPasid, S1Iova, Ipa + 0x2000, 0x1000, IoProt.Read | IoProt.Write).ThrowIfError("s1");
        Assert.Equal(1UL, ReadTag(S1Iova));

        Assert.Equal(Errno.Ok, _nested.Invalidate(new SelftestInvalidation((0, 0)), out var handled));
        Assert.Equal(1u, handled);
        Assert.Equal(2UL, ReadTag(S1Iova));

        // Even an unmap in stage 1 goes unnoticed until invalidated.
        _nested.StageOne.Unmap(Iotlb.NoPasid, S1Iova, 0x1000);
        Assert.Equal(2UL, ReadTag(S1Iova));
        _nested.Invalidate(new SelftestInvalidation((SelftestInvalidation.All, 0)), out _).ThrowIfError("invalidate");
        Assert.Equal(DmaFaultReason.NotMapped, _port.Read(S1Iova, new byte[1]).Fault?.Reason);
    }

    [Fact]
    public void A_failed_invalidation_flushes_nothing()
    {
        _nested.StageOne.Map(Iotlb.NoPasid, S1Iova, Ipa + 0x1000, 0x1000, IoProt.Read).ThrowIfError("s1");
        Assert.Equal(1UL, ReadTag(S1Iova));
        _nested.StageOne.Unmap(Iotlb.NoPasid, S1Iova, 0x1000);
        Assert.Equal(Errno.EINVAL, _nested.Invalidate(new SelftestInvalidation((0, 9)), out var handled));
        Assert.Equal(0u, handled);
        Assert.Equal(1UL, ReadTag(S1Iova));
    }

    [Fact]
    public void A_stage_two_unmap_is_seen_at_once_through_the_nested_entries_built_on_it()
    {
        _nested.StageOne.Map(Iotlb.NoPasid, S1Iova, Ipa + 0x1000, 0x2000, IoProt.Read | IoProt.Write).ThrowIfError("s1");
        Assert.Equal(1UL, ReadTag(S1Iova));
        Assert.Equal(2UL, ReadTag(S1Iova + 0x1000));
        // The engine manages stage 2: UNMAP flushes before it returns, nested entries included.
        _context.Unmap(_ioas, Ipa, 0xf000, out _).ThrowIfError("unmap");
        var fault = _port.Read(S1Iova + 0x1000, new byte[1]).Fault;
        Assert.Equal((DmaFaultReason.NotMapped, 2), (fault?.Reason, fault?.Stage));
    }

    [Fact]
    public void Pasids_select_their_own_stage_one_and_iotlb_entries()
    {
        _nested.StageOne.Map(5, S1Iova, Ipa + 0x3000, 0x1000, IoProt.Read).ThrowIfError("pasid 5");
        _nested.StageOne.Map(6, S1Iova, Ipa + 0x4000, 0x1000, IoProt.Read).ThrowIfError("pasid 6");
        Assert.Equal(3UL, ReadTag(S1Iova, 5));
        Assert.Equal(4UL, ReadTag(S1Iova, 6));
        Assert.Equal(3UL, ReadTag(S1Iova, 5));
        Assert.Equal(2, _port.Iotlb.Count);
        var fault = _port.Read(S1Iova, new byte[1], pasid: 7).Fault;
        Assert.Equal((DmaFaultReason.PasidNotAttached, 7u), (fault?.Reason, fault?.Pasid));
        // Without a PASID the request uses the RID's context (a bypass): IOVA S1Iova is no IPA.
        Assert.Equal(DmaFaultReason.NotMapped, _port.Read(S1Iova, new byte[1]).Fault?.Reason);
    }

    [Fact]
    public void Permission_faults_name_the_stage_that_refused()
    {
        _nested.StageOne.Map(Iotlb.NoPasid, S1Iova, Ipa, 0x1000, IoProt.Read).ThrowIfError("s1 read-only");
        _nested.StageOne.Map(Iotlb.NoPasid, S1Iova + 0x1000, Ipa + 0xf000, 0x1000, IoProt.Read | IoProt.Write).ThrowIfError("s2 read-only");
        var byStageOne = _port.Write(S1Iova + 0x10, new byte[4]).Fault;
        Assert.Equal((DmaFaultKind.Permission, 1, S1Iova + 0x10), (byStageOne?.Kind, byStageOne?.Stage, byStageOne?.Iova));
        var byStageTwo = _port.Write(S1Iova + 0x1010, new byte[4]).Fault;
        Assert.Equal((DmaFaultKind.Permission, 2, S1Iova + 0x1010, 0UL), (byStageTwo?.Kind, byStageTwo?.Stage, byStageTwo?.Iova, byStageTwo?.BytesTransferred));
        Assert.Equal(2, _model.Errors.Count);
    }
}
