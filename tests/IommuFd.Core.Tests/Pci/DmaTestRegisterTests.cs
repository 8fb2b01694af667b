using System.Buffers.Binary;
using IommuFd.Core.Machines;
using IommuFd.Core.Pci;
using R = IommuFd.Core.Pci.PciConfigRegisters;
using Reg = IommuFd.Core.Pci.DmaTestRegisters;

namespace IommuFd.Core.Tests.Pci;

/// <summary>BAR0 as a program sees it: the register file's access rules, the MSI-X table and PBA, reserved space, reset.</summary>
public sealed class DmaTestRegisterTests
{
    private readonly DmaTestFunction _function = new(new PciAddress(0, 0, 3, 0), 20);

    private ulong Read(int register)
    {
        var bytes = new byte[8];
        _function.ReadBar(0, (ulong)register, bytes).ThrowIfError("read");
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    private void Write(int register, ulong value)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        _function.WriteBar(0, (ulong)register, bytes).ThrowIfError("write");
    }

    [Fact]
    public void Id_reads_the_ascii_bytes_iommudma()
    {
        var bytes = new byte[8];
        _function.ReadBar(0, Reg.Id, bytes).ThrowIfError("read");
        Assert.Equal("IOMMUDMA"u8.ToArray(), bytes);
        Write(Reg.Id, 0);
        Assert.Equal(Reg.IdValue, Read(Reg.Id));
    }

    [Fact]
    public void Rw_registers_hold_what_is_written_and_ro_ones_ignore_writes()
    {
        Write(Reg.Src, 0x1122_3344_5566_7788);
        Write(Reg.Dst, 0xFFFF_FFFF_FFFF_F000);
        Write(Reg.Len, 0x1234_5678_9);
        Write(Reg.Pattern, 0xDEAD_BEEF_0BAD_F00D);
        Assert.Equal((0x1122_3344_5566_7788UL, 0xFFFF_FFFF_FFFF_F000UL, 0x1234_5678_9UL, 0xDEAD_BEEF_0BAD_F00DUL),
            (Read(Reg.Src), Read(Reg.Dst), Read(Reg.Len), Read(Reg.Pattern)));
        // PASID keeps its enable bit and the 20 PASID bits; the rest reads 0.
        Write(Reg.Pasid, ulong.MaxValue);
        Assert.Equal(0x800F_FFFFUL, Read(Reg.Pasid));
        foreach (var register in new[] { Reg.Status, Reg.FaultIova, Reg.FaultReason, Reg.Completed })
        {
            Write(register, 0x55);
            Assert.Equal(0UL, Read(register));
        }
        Assert.Equal(0UL, Read(Reg.Doorbell));
    }

    [Theory]
    [InlineData(0x08, 4)] // half a register
    [InlineData(0x0C, 4)]
    [InlineData(0x04, 8)] // misaligned
    [InlineData(0x10, 16)] // two registers at once
    [InlineData(0x50, 9)]
    [InlineData(0x50, 16)] // crosses the end of the registers
    [InlineData(0x08, 1)]
    public void Register_accesses_other_than_8_aligned_bytes_are_einval(ulong offset, int length)
    {
        Assert.Equal(Errno.EINVAL, _function.ReadBar(0, offset, new byte[length]));
        Assert.Equal(Errno.EINVAL, _function.WriteBar(0, offset, new byte[length]));
    }

    [Fact]
    public void Accesses_outside_bar0_are_einval()
    {
        Assert.Equal(Errno.EINVAL, _function.ReadBar(1, 0, new byte[8]));
        Assert.Equal(Errno.EINVAL, _function.ReadBar(0, 0x1000, new byte[8]));
        Assert.Equal(Errno.EINVAL, _function.ReadBar(0, 0xFFC, new byte[8]));
        Assert.Equal(Errno.EINVAL, _function.ReadBar(0, ulong.MaxValue - 3, new byte[8]));
        Assert.Equal(Errno.EINVAL, _function.WriteBar(5, 0, new byte[8]));
        Assert.Equal(Errno.EINVAL, _function.ReadBar(0, 0x100, []));
    }

    [Fact]
    public void Reserved_space_reads_zero_and_ignores_writes_of_any_width()
    {
        var ones = Enumerable.Repeat((byte)0xFF, 0x10).ToArray();
        Assert.Equal(Errno.Ok, _function.WriteBar(0, 0x100, ones));
        Assert.Equal(Errno.Ok, _function.WriteBar(0, 0x5A, ones.AsSpan(0, 3)));
        var read = new byte[0x10];
        Assert.Equal(Errno.Ok, _function.ReadBar(0, 0x100, read));
        Assert.All(read, b => Assert.Equal(0, b));
        Assert.Equal(Errno.Ok, _function.ReadBar(0, 0x59, read.AsSpan(0, 5)));
        Assert.All(read, b => Assert.Equal(0, b));
    }

    [Fact]
    public void The_msix_table_stores_entries_starting_masked_and_the_pba_reads_zero()
    {
        var entry = new byte[4];
        _function.ReadBar(0, DmaTestConfig.MsixTableOffset + 12, entry).ThrowIfError("vector control");
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(entry));
        var address = new byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(address, 0xFEE0_0000);
        _function.WriteBar(0, DmaTestConfig.MsixTableOffset, address).ThrowIfError("address");
        _function.WriteBar(0, DmaTestConfig.MsixTableOffset + 12, new byte[4]).ThrowIfError("unmask");
        var back = new byte[16];
        Assert.Equal(Errno.EINVAL, _function.ReadBar(0, DmaTestConfig.MsixTableOffset, back)); // 16 bytes is not a table access
        _function.ReadBar(0, DmaTestConfig.MsixTableOffset, back.AsSpan(0, 8)).ThrowIfError("read");
        _function.ReadBar(0, DmaTestConfig.MsixTableOffset + 8, back.AsSpan(8, 8)).ThrowIfError("read");
        Assert.Equal(0xFEE0_0000UL, BinaryPrimitives.ReadUInt64LittleEndian(back));
        Assert.Equal(0u, BinaryPrimitives.ReadUInt32LittleEndian(back.AsSpan(12)));
        Assert.Equal(Errno.EINVAL, _function.ReadBar(0, DmaTestConfig.MsixTableOffset + 2, new byte[4]));

        var pba = new byte[8];
        _function.WriteBar(0, DmaTestConfig.MsixPbaOffset, [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).ThrowIfError("pba write");
        _function.ReadBar(0, DmaTestConfig.MsixPbaOffset, pba).ThrowIfError("pba");
        Assert.All(pba, b => Assert.Equal(0, b));

        _function.Reset();
        _function.ReadBar(0, DmaTestConfig.MsixTableOffset + 12, entry).ThrowIfError("vector control");
        Assert.Equal(1u, BinaryPrimitives.ReadUInt32LittleEndian(entry));
    }

    [Fact]
    public void With_memory_decode_off_bar_accesses_are_eio()
    {
        _function.WriteConfig(R.Command, [0, 0]).ThrowIfError("command");
        Assert.Equal(Errno.EIO, _function.ReadBar(0, Reg.Id, new byte[8]));
        Assert.Equal(Errno.EIO, _function.WriteBar(0, Reg.Src, new byte[8]));
        _function.WriteConfig(R.Command, [(byte)R.CommandMemory, 0]).ThrowIfError("command");
        Assert.Equal(Errno.Ok, _function.ReadBar(0, Reg.Id, new byte[8]));
    }

    [Fact]
    public void Unknown_doorbell_values_start_nothing()
    {
        var sink = new RecordingInterruptSink();
        _function.ConnectInterrupts(sink);
        _function.WriteConfig(R.Command, [(byte)(R.CommandMemory | R.CommandBusMaster), 0]).ThrowIfError("command");
        foreach (var value in new ulong[] { 0, 3, 0x101, ulong.MaxValue })
            Write(Reg.Doorbell, value);
        Assert.Equal((0UL, 0UL), (Read(Reg.Status), Read(Reg.Completed)));
        Assert.Empty(sink.Raised);
    }

    [Fact]
    public void Reset_returns_registers_and_bus_mastering_to_power_on()
    {
        _function.WriteConfig(R.Command, [(byte)(R.CommandMemory | R.CommandBusMaster), 0]).ThrowIfError("command");
        Write(Reg.Src, 1);
        Write(Reg.Dst, 2);
        Write(Reg.Len, 0);
        Write(Reg.Pattern, 4);
        Write(Reg.Pasid, 0x8000_0005);
        Write(Reg.Doorbell, Reg.DoorbellCopy); // LEN 0: done at once
        Assert.Equal((1UL, 1UL), (Read(Reg.Status), Read(Reg.Completed)));
        _function.Reset();
        foreach (var register in new[] { Reg.Src, Reg.Dst, Reg.Len, Reg.Pattern, Reg.Pasid, Reg.Status, Reg.FaultIova, Reg.FaultReason, Reg.Completed })
            Assert.Equal(0UL, Read(register));
        Assert.Equal(Reg.IdValue, Read(Reg.Id));
        var command = new byte[2];
        _function.ReadConfig(R.Command, command).ThrowIfError("command");
        Assert.Equal(R.CommandMemory, BinaryPrimitives.ReadUInt16LittleEndian(command));
    }
}
