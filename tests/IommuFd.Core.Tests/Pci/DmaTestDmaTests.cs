using IommuFd.Core.Dma;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Machines;
using IommuFd.Core.Objects;
using IommuFd.Core.Pci;
using R = IommuFd.Core.Pci.PciConfigRegisters;
using Reg = IommuFd.Core.Pci.DmaTestRegisters;

namespace IommuFd.Core.Tests.Pci;

/// <summary>
/// The DMA test device moving bytes through a real machine's IOMMU: copies and fills land byte for
/// byte in the program's memory; faults stop the operation where the IOMMU says, with what came
/// before transferred and FAULT_IOVA / FAULT_REASON telling why; every operation ends with one
/// interrupt of each kind and one more COMPLETED.
/// </summary>
public sealed class DmaTestDmaTests
{
    private const ulong Src = 0x100_0000;
    private const ulong Dst = 0x200_0000;

    private static (DmaTestFaultReason Reason, ulong Iova) Fault(DmaTestRig rig) =>
        ((DmaTestFaultReason)rig.Read(Reg.FaultReason), rig.Read(Reg.FaultIova));

    [Theory]
    [InlineData("intel-vtd")]
    [InlineData("amd-vi")]
    [InlineData("arm-smmuv3")]
    public void A_copy_moves_every_byte_from_src_to_dst(string preset)
    {
        MachinePresets.TryGet(preset, out var machine);
        using var rig = new DmaTestRig(machine);
        rig.Attach();
        rig.Map(Src, 0, 0x10_0000);
        rig.Map(Dst, 0x10_0000, 0x10_0000);
        var data = DmaTestRig.Pattern(0x5123, 7);
        rig.SetProgram(0x123, data);

        Assert.Equal(DmaTestStatus.Done, rig.Copy(Src + 0x123, Dst + 0x7FF, (ulong)data.Length));
        Assert.Equal(data, rig.Program(0x10_07FF, data.Length));
        Assert.Equal(new byte[1], rig.Program(0x10_07FE, 1)); // nothing before DST
        Assert.Equal(new byte[1], rig.Program(0x10_07FF + (ulong)data.Length, 1)); // nor after
        Assert.Equal((DmaTestFaultReason.None, 0UL), Fault(rig));
        Assert.Equal(1UL, rig.Read(Reg.Completed));
        Assert.Equal([(PciInterruptKind.Msix, 0), (PciInterruptKind.Intx, 0)], rig.Interrupts.Raised);
        Assert.Null(rig.Function.Model.LastError);
    }

    [Fact]
    public void A_fill_repeats_the_pattern_little_endian_from_dst()
    {
        using var rig = new DmaTestRig();
        rig.Attach();
        rig.Map(Dst, 0, 0x4000);
        const ulong pattern = 0x8877_6655_4433_2211;
        Assert.Equal(DmaTestStatus.Done, rig.Fill(Dst + 0x0FFD, 0x1013, pattern));
        var filled = rig.Program(0x0FFD, 0x1013);
        for (var i = 0; i < filled.Length; i++)
            Assert.Equal((byte)(0x11 * (i % 8 + 1)), filled[i]);
        Assert.Equal(new byte[1], rig.Program(0x0FFD + 0x1013, 1));
        Assert.Equal(1UL, rig.Read(Reg.Completed));
    }

    [Theory]
    [InlineData(2UL << 20)]
    [InlineData(64UL << 20)]
    public void Large_copies_and_fills_go_through_in_chunks(ulong length)
    {
        using var rig = new DmaTestRig(userSize: 2 * length);
        rig.Attach();
        rig.Map(Src, 0, length);
        rig.Map(Src + length, length, length);
        var data = DmaTestRig.Pattern(0x10_0000, 3);
        for (var at = 0UL; at < length; at += (ulong)data.Length)
        {
            data[0] = (byte)(at >> 20); // every MiB different
            rig.SetProgram(at, data);
        }
        Assert.Equal(DmaTestStatus.Done, rig.Copy(Src, Src + length, length));
        var copied = new byte[data.Length];
        for (var at = 0UL; at < length; at += (ulong)data.Length)
        {
            data[0] = (byte)(at >> 20);
            rig.Memory.Read(DmaTestRig.UserBase + length + at, copied).ThrowIfError("read");
            Assert.Equal(data, copied);
        }

        Assert.Equal(DmaTestStatus.Done, rig.Fill(Src, length, 0x0102_0304_0506_0708));
        var tail = rig.Program(length - 16, 16);
        Assert.Equal<byte>([8, 7, 6, 5, 4, 3, 2, 1, 8, 7, 6, 5, 4, 3, 2, 1], tail);
        Assert.Equal(2UL, rig.Read(Reg.Completed));
    }

    [Fact]
    public void A_copy_within_one_chunk_behaves_like_memmove_when_ranges_overlap()
    {
        using var rig = new DmaTestRig();
        rig.Attach();
        rig.Map(Src, 0, 0x4000);
        var data = DmaTestRig.Pattern(0x1000, 5);
        rig.SetProgram(0, data);
        Assert.Equal(DmaTestStatus.Done, rig.Copy(Src, Src + 0x10, 0x1000));
        Assert.Equal(data, rig.Program(0x10, 0x1000));
    }

    [Fact]
    public void An_unmapped_source_stops_the_copy_with_the_bytes_before_it_copied()
    {
        using var rig = new DmaTestRig();
        rig.Attach();
        rig.Map(Src, 0, 0x3000);
        rig.Map(Dst, 0x10_0000, 0x10000);
        var data = DmaTestRig.Pattern(0x3000, 1);
        rig.SetProgram(0, data);

        Assert.Equal(DmaTestStatus.Fault, rig.Copy(Src + 0x100, Dst, 0x5000));
        Assert.Equal((DmaTestFaultReason.NotMapped, Src + 0x3000), Fault(rig));
        Assert.Equal(data[0x100..], rig.Program(0x10_0000, 0x2F00));
        Assert.Equal(new byte[0x100], rig.Program(0x10_2F00, 0x100));
        Assert.Equal(DmaFaultReason.NotMapped, rig.Function.Model.LastError?.Reason);
        // The refused read completed as an unsupported request: received master abort, write 1 to clear.
        Assert.Equal(R.StatusCapabilityList | R.StatusReceivedMasterAbort, rig.Config16(R.Status));
        rig.Function.WriteConfig(R.Status, [0, 0]).ThrowIfError("status");
        Assert.Equal(R.StatusCapabilityList | R.StatusReceivedMasterAbort, rig.Config16(R.Status));
        rig.Function.WriteConfig(R.Status, [0, R.StatusReceivedMasterAbort >> 8]).ThrowIfError("status");
        Assert.Equal(R.StatusCapabilityList, rig.Config16(R.Status));
        Assert.Equal(2, rig.Interrupts.Raised.Count); // one MSI-X, one INTx
    }

    [Fact]
    public void A_fault_in_a_later_chunk_keeps_the_chunks_before_it()
    {
        using var rig = new DmaTestRig(userSize: 0x80_0000);
        rig.Attach();
        const int mapped = DmaTestEngine.ChunkSize * 3 / 2;
        rig.Map(Src, 0, mapped);
        rig.Map(Dst, 0x40_0000, 0x40_0000);
        var data = DmaTestRig.Pattern(mapped, 6);
        rig.SetProgram(0, data);
        Assert.Equal(DmaTestStatus.Fault, rig.Copy(Src, Dst, 4UL * DmaTestEngine.ChunkSize));
        Assert.Equal((DmaTestFaultReason.NotMapped, Src + mapped), Fault(rig));
        Assert.Equal(data, rig.Program(0x40_0000, mapped));
        Assert.Equal(new byte[16], rig.Program(0x40_0000 + mapped, 16));
    }

    [Fact]
    public void Doorbells_from_two_threads_each_run_whole()
    {
        using var rig = new DmaTestRig();
        rig.Attach();
        rig.Map(Src, 0, 0x1000);
        rig.Write(Reg.Dst, Src);
        rig.Write(Reg.Len, 0x1000);
        var bell = new byte[8];
        bell[0] = (byte)Reg.DoorbellFill;
        Parallel.For(0, 2, _ =>
        {
            for (var i = 0; i < 200; i++)
                rig.Function.WriteBar(0, Reg.Doorbell, bell).ThrowIfError("doorbell");
        });
        Assert.Equal(400UL, rig.Read(Reg.Completed));
        Assert.Equal(400, rig.Interrupts.Count(PciInterruptKind.Msix));
    }

    [Fact]
    public void A_read_only_destination_is_a_permission_fault_after_the_writable_pages()
    {
        using var rig = new DmaTestRig();
        rig.Attach();
        rig.Map(Src, 0, 0x4000);
        rig.Map(Dst, 0x10_0000, 0x1000);
        rig.Map(Dst + 0x1000, 0x10_1000, 0x1000, IoProt.Read);
        var data = DmaTestRig.Pattern(0x2000, 9);
        rig.SetProgram(0, data);

        Assert.Equal(DmaTestStatus.Fault, rig.Copy(Src, Dst + 0x800, 0x1000));
        Assert.Equal((DmaTestFaultReason.Permission, Dst + 0x1000), Fault(rig));
        Assert.Equal(data[..0x800], rig.Program(0x10_0800, 0x800));
        Assert.Equal(new byte[0x800], rig.Program(0x10_1000, 0x800));
        // A write the IOMMU refuses is posted: no completion, no status bit.
        Assert.Equal(R.StatusCapabilityList, rig.Config16(R.Status));

        Assert.Equal(DmaTestStatus.Fault, rig.Fill(Dst + 0x1000, 8, 1));
        Assert.Equal((DmaTestFaultReason.Permission, Dst + 0x1000), Fault(rig));
    }

    [Fact]
    public void After_unmap_the_same_copy_faults_on_the_unmapped_destination()
    {
        using var rig = new DmaTestRig();
        rig.Attach();
        rig.Map(Src, 0, 0x2000);
        rig.Map(Dst, 0x10_0000, 0x2000);
        Assert.Equal(DmaTestStatus.Done, rig.Copy(Src, Dst, 0x2000));
        rig.Unmap(Dst, 0x2000);
        Assert.Equal(DmaTestStatus.Fault, rig.Copy(Src, Dst, 0x2000));
        Assert.Equal((DmaTestFaultReason.NotMapped, Dst), Fault(rig));
        // Done clears the fault registers again.
        Assert.Equal(DmaTestStatus.Done, rig.Fill(Src, 16, 0));
        Assert.Equal((DmaTestFaultReason.None, 0UL), Fault(rig));
    }

    [Fact]
    public void A_detached_device_and_a_device_without_a_port_are_blocked()
    {
        using var rig = new DmaTestRig();
        rig.Map(Src, 0, 0x2000);
        rig.Map(Dst, 0x10_0000, 0x2000);
        Assert.Equal(DmaTestStatus.Fault, rig.Copy(Src, Dst, 0x100)); // never attached
        Assert.Equal((DmaTestFaultReason.Blocked, Src), Fault(rig));
        rig.Attach();
        Assert.Equal(DmaTestStatus.Done, rig.Copy(Src, Dst, 0x100));
        rig.Context.DetachDevice(rig.DeviceId).ThrowIfError("detach");
        Assert.Equal(DmaTestStatus.Fault, rig.Fill(Dst + 8, 0x100, 7));
        Assert.Equal((DmaTestFaultReason.Blocked, Dst + 8), Fault(rig));

        rig.Attach();
        rig.Function.ConnectDma(null);
        Assert.Equal(DmaTestStatus.Fault, rig.Copy(Src + 4, Dst, 0x100));
        Assert.Equal((DmaTestFaultReason.Blocked, Src + 4), Fault(rig));
        Assert.Equal(4UL, rig.Read(Reg.Completed));
    }

    [Fact]
    public void With_bus_mastering_off_nothing_is_transferred()
    {
        using var rig = new DmaTestRig();
        rig.Attach();
        rig.Map(Src, 0, 0x2000);
        rig.Map(Dst, 0x10_0000, 0x2000);
        rig.SetProgram(0, DmaTestRig.Pattern(0x2000, 4));
        rig.Command(R.CommandMemory);
        Assert.Equal(DmaTestStatus.Fault, rig.Copy(Src, Dst, 0x2000));
        Assert.Equal((DmaTestFaultReason.BusMasterOff, Src), Fault(rig));
        Assert.Equal(new byte[0x2000], rig.Program(0x10_0000, 0x2000));
        Assert.Equal(DmaTestStatus.Fault, rig.Fill(Dst, 0, 1)); // even an empty operation
        Assert.Equal((DmaTestFaultReason.BusMasterOff, Dst), Fault(rig));
        Assert.Equal(0, rig.Function.Model.Errors); // nothing reached the IOMMU
        rig.Command(R.CommandMemory | R.CommandBusMaster);
        Assert.Equal(DmaTestStatus.Done, rig.Copy(Src, Dst, 0x2000));
        Assert.Equal(rig.Program(0, 0x2000), rig.Program(0x10_0000, 0x2000));
    }

    [Fact]
    public void Every_operation_counts_and_raises_one_interrupt_of_each_kind()
    {
        using var rig = new DmaTestRig();
        rig.Attach();
        rig.Map(Src, 0, 0x2000);
        rig.Copy(Src, Src + 0x1000, 0x1000); // done
        rig.Copy(Src, Dst, 0x10); // fault
        rig.Fill(Src, 0, 0); // empty: done
        Assert.Equal(3UL, rig.Read(Reg.Completed));
        Assert.Equal((3, 3), (rig.Interrupts.Count(PciInterruptKind.Msix), rig.Interrupts.Count(PciInterruptKind.Intx)));
        Assert.All(rig.Interrupts.Raised, r => Assert.Equal(0, r.Vector));

        // INTx disabled in the command register: MSI-X only.
        rig.Command(R.CommandMemory | R.CommandBusMaster | R.CommandIntxDisable);
        rig.Fill(Src, 8, 0);
        Assert.Equal((4, 3), (rig.Interrupts.Count(PciInterruptKind.Msix), rig.Interrupts.Count(PciInterruptKind.Intx)));
        // Reset: the counter starts again.
        rig.Function.Reset();
        Assert.Equal(0UL, rig.Read(Reg.Completed));
        Assert.Equal(DmaTestStatus.Fault, rig.Fill(Src, 8, 0)); // reset turned bus mastering off
        Assert.Equal(1UL, rig.Read(Reg.Completed));
    }

    [Fact]
    public void Dma_with_a_pasid_goes_through_that_pasids_stage_one()
    {
        // The mock driver's nested domain keeps stage 1 per PASID in managed memory.
        using var rig = new DmaTestRig(MachinePresets.ArmSmmuV3, driverFor: _ => MockIommuDriver.Instance);
        rig.Context.AllocHwpt(rig.DeviceId, rig.Ioas, HwptAllocFlags.NestParent, null, out var parent).ThrowIfError("parent");
        rig.Context.AllocHwpt(rig.DeviceId, parent, HwptAllocFlags.None, new ManagedDriverData(MockIommuDriver.HwptDataSelftest, new byte[4]), out var nestedId).ThrowIfError("nested");
        rig.Context.AttachDevice(rig.DeviceId, nestedId, out _).ThrowIfError("attach");
        MockNestedDomain nested;
        using (var hold = rig.Context.Objects.Hold<HwptNested>(nestedId))
        {
            hold.Status.ThrowIfError("hold");
            nested = (MockNestedDomain)hold.Value.Domain;
        }
        const ulong ipa = 0x100_0000, s1 = 0x7_0000_0000;
        rig.Map(ipa, 0, 0x4000);
        nested.StageOne.Map(5, s1, ipa, 0x4000, IoProt.Read | IoProt.Write).ThrowIfError("stage 1");
        var data = DmaTestRig.Pattern(0x1000, 2);
        rig.SetProgram(0, data);

        rig.Write(Reg.Pasid, Reg.PasidEnable | 5);
        Assert.Equal(DmaTestStatus.Done, rig.Copy(s1, s1 + 0x2000, 0x1000));
        Assert.Equal(data, rig.Program(0x2000, 0x1000));
        rig.Write(Reg.Pasid, Reg.PasidEnable | 6);
        Assert.Equal(DmaTestStatus.Fault, rig.Copy(s1, s1 + 0x2000, 0x1000));
        Assert.Equal((DmaTestFaultReason.Blocked, s1), Fault(rig));
        Assert.Equal((DmaFaultReason.PasidNotAttached, 6u), (rig.Function.Model.LastError?.Reason, rig.Function.Model.LastError?.Pasid));
    }

    [Fact]
    public void A_pasid_the_device_cannot_issue_is_blocked_before_the_iommu()
    {
        MachinePresets.TryGet("amd-vi", out var amd); // 16-bit PASIDs
        using var rig = new DmaTestRig(amd);
        rig.Attach();
        rig.Map(Src, 0, 0x1000);
        rig.Write(Reg.Pasid, Reg.PasidEnable | 0x1_0000);
        Assert.Equal(DmaTestStatus.Fault, rig.Fill(Src, 8, 1));
        Assert.Equal((DmaTestFaultReason.Blocked, Src), Fault(rig));
        Assert.Equal(0, rig.Function.Model.Errors);
        rig.Write(Reg.Pasid, 0x1_0000); // enable bit clear: no PASID
        Assert.Equal(DmaTestStatus.Done, rig.Fill(Src, 8, 1));
    }
}
