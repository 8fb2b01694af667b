using System.Buffers.Binary;
using IommuFd.Core.Machines;
using IommuFd.Core.Pci;
using R = IommuFd.Core.Pci.PciConfigRegisters;

namespace IommuFd.Core.Tests.Pci;

/// <summary>
/// The DMA test device's configuration space as a program reads it through VFIO: its IDs and
/// class, BAR0 sizing, the capability chain, read-only and write-1-to-clear bits, and PASID
/// present in the device but hidden from the config region, as vfio-pci hides it.
/// </summary>
public sealed class DmaTestConfigTests
{
    private static readonly PciAddress Slot3 = new(0, 0, 3, 0);

    private static byte[] Config(IPciFunction function)
    {
        var bytes = new byte[function.ConfigSize];
        function.ReadConfig(0, bytes).ThrowIfError("read");
        return bytes;
    }

    private static void Write32(IPciFunction function, int offset, uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, value);
        function.WriteConfig(offset, bytes).ThrowIfError("write");
    }

    private static void Write16(IPciFunction function, int offset, ushort value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, value);
        function.WriteConfig(offset, bytes).ThrowIfError("write");
    }

    private static uint U32(byte[] config, int offset) => BinaryPrimitives.ReadUInt32LittleEndian(config.AsSpan(offset));

    private static ushort U16(byte[] config, int offset) => BinaryPrimitives.ReadUInt16LittleEndian(config.AsSpan(offset));

    /// <summary>Follows the standard capability list from 0x34: (ID, offset) pairs.</summary>
    private static List<(byte Id, int Offset)> Capabilities(byte[] config)
    {
        var found = new List<(byte, int)>();
        Assert.NotEqual(0, U16(config, R.Status) & R.StatusCapabilityList);
        for (int at = config[R.CapabilityPointer], steps = 0; at != 0; at = config[at + R.CapabilityNext], steps++)
        {
            Assert.True(steps < 48, "the capability list loops");
            Assert.True(at >= R.HeaderSize && at % 4 == 0, $"capability at 0x{at:x}");
            found.Add((config[at], at));
        }
        return found;
    }

    [Fact]
    public void The_header_has_our_ids_class_0880_and_a_type_0_layout()
    {
        var function = new DmaTestFunction(Slot3, pasidWidth: 0);
        var config = Config(function);
        Assert.Equal(R.ExpressSize, config.Length);
        Assert.Equal((DmaTestConfig.VendorId, DmaTestConfig.DeviceId), (U16(config, R.VendorId), U16(config, R.DeviceId)));
        Assert.Equal(0x1234, U16(config, R.VendorId));
        Assert.Equal(0x0880_0000u | DmaTestConfig.Revision, U32(config, R.Revision));
        Assert.Equal(0, config[R.HeaderType]);
        Assert.Equal((DmaTestConfig.SubsystemVendorId, DmaTestConfig.SubsystemId), (U16(config, R.SubsystemVendorId), U16(config, R.SubsystemId)));
        Assert.Equal(1, config[R.InterruptPin]);
        // Memory decode on as the host left it; bus mastering off until the program sets it.
        Assert.Equal(R.CommandMemory, U16(config, R.Command));
        // BAR0: 32-bit non-prefetchable memory at the host's address; the others and the ROM absent.
        Assert.Equal(DmaTestConfig.Bar0Address(Slot3), U32(config, R.Bar0));
        Assert.Equal(0u, U32(config, R.Bar0) & 0xF);
        for (var bar = 1; bar < 6; bar++)
            Assert.Equal(0u, U32(config, R.Bar0 + 4 * bar));
        Assert.Equal(0u, U32(config, R.RomAddress));
        Assert.Equal(new PciBarInfo(0x1000, PciBarFlags.Memory), function.Bar(0));
        Assert.False(function.Bar(1).Implemented);
        Assert.Equal(new PciInterruptCounts(1, 0, 1), function.Interrupts);
    }

    [Fact]
    public void Bar0_sizing_reads_back_the_size_mask_and_an_address_write_sticks()
    {
        var function = new DmaTestFunction(Slot3, 0);
        Write32(function, R.Bar0, 0xFFFF_FFFF);
        Assert.Equal(0xFFFF_F000u, U32(Config(function), R.Bar0));
        Write32(function, R.Bar0, 0xC000_1234);
        Assert.Equal(0xC000_1000u, U32(Config(function), R.Bar0));
        // Unimplemented BARs and the ROM BAR stay zero whatever is written.
        Write32(function, R.Bar0 + 4, 0xFFFF_FFFF);
        Write32(function, R.RomAddress, 0xFFFF_FFFF);
        Assert.Equal(0u, U32(Config(function), R.Bar0 + 4));
        Assert.Equal(0u, U32(Config(function), R.RomAddress));
    }

    [Fact]
    public void The_capability_chain_is_pci_express_then_msix_with_table_and_pba_in_bar0()
    {
        var config = Config(new DmaTestFunction(Slot3, 20));
        var caps = Capabilities(config);
        Assert.Equal([(R.CapabilityIdExpress, DmaTestConfig.ExpressOffset), (R.CapabilityIdMsix, DmaTestConfig.MsixOffset)], caps);

        var express = DmaTestConfig.ExpressOffset;
        Assert.Equal(2, U16(config, express + R.ExpressFlags) & 0xF); // version 2
        Assert.Equal(0, (U16(config, express + R.ExpressFlags) >> 4) & 0xF); // endpoint
        Assert.NotEqual(0u, U32(config, express + R.ExpressDeviceCapabilities) & R.ExpressDeviceCapFlr);

        var msix = DmaTestConfig.MsixOffset;
        var control = U16(config, msix + R.MsixControl);
        Assert.Equal(0, control & R.MsixControlTableSize); // one vector
        Assert.Equal(0, control & (R.MsixControlEnable | R.MsixControlFunctionMask));
        var table = U32(config, msix + R.MsixTable);
        var pba = U32(config, msix + R.MsixPba);
        Assert.Equal((0u, 0x800u), (table & 7, table & ~7u));
        Assert.Equal((0u, 0xC00u), (pba & 7, pba & ~7u));
        Assert.True((table & ~7u) + 16 <= DmaTestConfig.Bar0Size && (pba & ~7u) + 8 <= DmaTestConfig.Bar0Size);
        Assert.True((table & ~7u) >= DmaTestRegisters.End);
    }

    [Theory]
    [InlineData(20)]
    [InlineData(16)]
    public void With_pasid_the_device_has_the_pasid_capability_and_vfio_hides_it(int width)
    {
        var function = new DmaTestFunction(Slot3, width);
        var physical = new byte[function.ConfigSize];
        function.ReadPhysicalConfig(0, physical).ThrowIfError("physical");
        var header = U32(physical, R.ExtendedStart);
        Assert.Equal(R.ExtendedCapabilityIdPasid, (ushort)header);
        Assert.Equal(1u, (header >> 16) & 0xF);
        Assert.Equal(0u, header >> 20); // the last one
        Assert.Equal(width, (U16(physical, R.ExtendedStart + R.PasidCapabilities) >> 8) & 0x1F);
        Assert.Equal(R.PasidControlEnable, U16(physical, R.ExtendedStart + R.PasidControl));
        Assert.Equal(width, function.PasidWidth);

        // The config region: PASID was the only extended capability, so the chain reads empty.
        Assert.Equal(0u, U32(Config(function), R.ExtendedStart));
        Write32(function, R.ExtendedStart, 0xFFFF_FFFF);
        Assert.Equal(0u, U32(Config(function), R.ExtendedStart));
        // Not the program's to turn off either.
        Write16(function, R.ExtendedStart + R.PasidControl, 0);
        function.ReadPhysicalConfig(0, physical).ThrowIfError("physical");
        Assert.Equal(R.PasidControlEnable, U16(physical, R.ExtendedStart + R.PasidControl));
    }

    [Fact]
    public void Without_pasid_there_is_no_extended_capability()
    {
        var function = new DmaTestFunction(Slot3, 0);
        var physical = new byte[function.ConfigSize];
        function.ReadPhysicalConfig(0, physical).ThrowIfError("physical");
        Assert.All(physical[R.ExtendedStart..], b => Assert.Equal(0, b));
        Assert.Equal(0u, U32(Config(function), R.ExtendedStart));
        Assert.Equal(0, function.PasidWidth);
    }

    [Fact]
    public void A_hidden_capability_later_in_the_chain_is_skipped_by_the_previous_next_pointer()
    {
        var space = new PciConfigSpace(R.ExpressSize);
        space.Define32(0x100, R.ExtendedHeader(0x0003, 1, 0x140)); // serial number, shown
        space.Define32(0x140, R.ExtendedHeader(R.ExtendedCapabilityIdPasid, 1, 0x180));
        space.Define32(0x180, R.ExtendedHeader(0x0018, 1, 0)); // LTR, shown
        var view = new VfioConfigView(space);
        var bytes = new byte[4];
        view.Read(0x100, bytes).ThrowIfError("read");
        Assert.Equal(R.ExtendedHeader(0x0003, 1, 0x180), BinaryPrimitives.ReadUInt32LittleEndian(bytes));

        var first = new PciConfigSpace(R.ExpressSize);
        first.Define32(0x100, R.ExtendedHeader(R.ExtendedCapabilityIdPasid, 1, 0x140));
        first.Define32(0x140, R.ExtendedHeader(0x0018, 1, 0));
        new VfioConfigView(first).Read(0x100, bytes).ThrowIfError("read");
        Assert.Equal(0x140u << 20, BinaryPrimitives.ReadUInt32LittleEndian(bytes)); // anchor: ID 0, next kept
    }

    [Fact]
    public void Read_only_bits_and_registers_keep_their_values()
    {
        var function = new DmaTestFunction(Slot3, 20);
        var before = Config(function);
        var ones = Enumerable.Repeat((byte)0xFF, R.HeaderSize).ToArray();
        function.WriteConfig(0, ones).ThrowIfError("write");
        var after = Config(function);
        foreach (var offset in new[] { R.VendorId, R.DeviceId, R.Revision, R.SubsystemVendorId, R.SubsystemId })
            Assert.Equal(U16(before, offset), U16(after, offset));
        Assert.Equal(U32(before, R.Revision), U32(after, R.Revision));
        Assert.Equal((before[R.HeaderType], before[R.CapabilityPointer], before[R.InterruptPin]), (after[R.HeaderType], after[R.CapabilityPointer], after[R.InterruptPin]));
        // Only the command bits the device implements stick: memory, bus master, parity, SERR, INTx disable.
        Assert.Equal(0x0546, U16(after, R.Command));
        Assert.Equal(0xFF, after[R.InterruptLine]);
        // The capabilities (MSI-X included: vfio-pci drops writes to it) are unchanged.
        function.WriteConfig(DmaTestConfig.MsixOffset, Enumerable.Repeat((byte)0xFF, 12).ToArray()).ThrowIfError("msix");
        Assert.Equal(before[DmaTestConfig.MsixOffset..(DmaTestConfig.MsixOffset + 12)], Config(function)[DmaTestConfig.MsixOffset..(DmaTestConfig.MsixOffset + 12)]);
        Assert.Equal(U32(before, DmaTestConfig.ExpressOffset), U32(Config(function), DmaTestConfig.ExpressOffset));
    }

    [Fact]
    public void Status_error_bits_clear_when_one_is_written_and_the_capability_bit_stays()
    {
        var function = new DmaTestFunction(Slot3, 0);
        // Only the device sets error bits; a program writing ones to a clear status changes nothing.
        Write16(function, R.Status, 0xFFFF);
        Assert.Equal(R.StatusCapabilityList, U16(Config(function), R.Status));
        // Device status in the PCI Express capability behaves the same way.
        var deviceStatus = DmaTestConfig.ExpressOffset + R.ExpressDeviceStatus;
        Write16(function, deviceStatus, 0xFFFF);
        Assert.Equal(0, U16(Config(function), deviceStatus));
    }

    [Fact]
    public void Accesses_outside_config_space_are_einval()
    {
        var function = new DmaTestFunction(Slot3, 0);
        Assert.Equal(Errno.EINVAL, function.ReadConfig(4095, new byte[2]));
        Assert.Equal(Errno.EINVAL, function.ReadConfig(-1, new byte[1]));
        Assert.Equal(Errno.EINVAL, function.WriteConfig(4096, new byte[1]));
        Assert.Equal(Errno.Ok, function.ReadConfig(4092, new byte[4]));
    }

    [Fact]
    public void An_flr_through_device_control_resets_the_function_and_the_bit_reads_zero()
    {
        var function = new DmaTestFunction(Slot3, 0);
        Write16(function, R.Command, R.CommandMemory | R.CommandBusMaster);
        Write32(function, R.Bar0, 0xFFFF_FFFF);
        var control = DmaTestConfig.ExpressOffset + R.ExpressDeviceControl;
        Write16(function, control, DmaTestConfig.DeviceControlDefault | R.ExpressDeviceControlFlr);
        var config = Config(function);
        Assert.Equal(R.CommandMemory, U16(config, R.Command));
        Assert.Equal(DmaTestConfig.Bar0Address(Slot3), U32(config, R.Bar0));
        Assert.Equal(DmaTestConfig.DeviceControlDefault, U16(config, control));
    }

    [Fact]
    public void The_machine_makes_the_dma_test_function_with_its_iommus_pasid_width()
    {
        var machine = new Machine(MachinePresets.AmdVi);
        var function = machine.Device("dma1").CreatePciFunction();
        Assert.IsType<DmaTestFunction>(function);
        Assert.Equal(16, function.PasidWidth);
        Assert.Equal(machine.Device("dma1").Description.Pci, function.Address);
        var noPasid = MachinePresets.IntelVtd with { Iommus = [MachinePresets.IntelVtd.Iommus[0] with { PasidWidth = 0 }] };
        Assert.Equal(0, new Machine(noPasid).Device("dma0").CreatePciFunction().PasidWidth);
    }
}
