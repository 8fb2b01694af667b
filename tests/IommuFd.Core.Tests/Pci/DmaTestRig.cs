using System.Buffers.Binary;
using IommuFd.Core.Devices;
using IommuFd.Core.Dma;
using IommuFd.Core.Drivers;
using IommuFd.Core.Machines;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Pci;
using Reg = IommuFd.Core.Pci.DmaTestRegisters;

namespace IommuFd.Core.Tests.Pci;

/// <summary>
/// A program's view of the DMA test device on a machine preset: simulated program memory, a
/// context with dma0 bound, an IOAS, the device's PCI function with its DMA port connected
/// (through dma0's IOMMU, as the VFIO layer will connect it) and a sink recording interrupts.
/// </summary>
internal sealed class DmaTestRig : IDisposable
{
    public const ulong UserBase = 0x4000_0000;

    public DmaTestRig(MachineDescription? preset = null, ulong userSize = 0x40_0000, Func<IommuDescription, IIommuDriver>? driverFor = null)
    {
        Memory.Map(UserBase, userSize);
        Context = new IommufdContext(new IommuHost(Memory, ulong.MaxValue));
        Machine = new Machine(preset ?? MachinePresets.IntelVtd, driverFor);
        var dma0 = Machine.Device("dma0");
        Device = dma0.CreateDevice();
        Context.BindDevice(Device, out var id).ThrowIfError("bind");
        DeviceId = id;
        Context.CreateIoas(out var ioas).ThrowIfError("ioas");
        Ioas = ioas;
        Function = (DmaTestFunction)dma0.CreatePciFunction();
        Port = dma0.Iommu.OpenDma(Context, Device, Function.DmaModel);
        Function.ConnectDma(Port);
        Function.ConnectInterrupts(Interrupts);
        // A program sets bus mastering before it starts DMA.
        Command(PciConfigRegisters.CommandMemory | PciConfigRegisters.CommandBusMaster);
    }

    public SimulatedUserMemory Memory { get; } = new();

    public IommufdContext Context { get; }

    public Machine Machine { get; }

    public Device Device { get; }

    public DeviceId DeviceId { get; }

    public IoasId Ioas { get; }

    public DmaTestFunction Function { get; }

    public DmaPort Port { get; }

    public RecordingInterruptSink Interrupts { get; } = new();

    public void Attach() => Context.AttachDevice(DeviceId, Ioas, out _).ThrowIfError("attach");

    public void Map(ulong iova, ulong userOffset, ulong length, IoProt prot = IoProt.Read | IoProt.Write) =>
        Context.Map(Ioas, UserBase + userOffset, length, prot, IovaPlacement.Fixed, ref iova).ThrowIfError("map");

    public void Unmap(ulong iova, ulong length) => Context.Unmap(Ioas, iova, length, out _).ThrowIfError("unmap");

    public void Command(ushort value)
    {
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(bytes, value);
        Function.WriteConfig(PciConfigRegisters.Command, bytes).ThrowIfError("command");
    }

    public ushort Config16(int offset)
    {
        Span<byte> bytes = stackalloc byte[2];
        Function.ReadConfig(offset, bytes).ThrowIfError("config read");
        return BinaryPrimitives.ReadUInt16LittleEndian(bytes);
    }

    public ulong Read(int register)
    {
        Span<byte> bytes = stackalloc byte[8];
        Function.ReadBar(0, (ulong)register, bytes).ThrowIfError($"read 0x{register:x}");
        return BinaryPrimitives.ReadUInt64LittleEndian(bytes);
    }

    public void Write(int register, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
        Function.WriteBar(0, (ulong)register, bytes).ThrowIfError($"write 0x{register:x}");
    }

    /// <summary>Programs and rings a copy; returns STATUS.</summary>
    public DmaTestStatus Copy(ulong src, ulong dst, ulong length)
    {
        Write(Reg.Src, src);
        Write(Reg.Dst, dst);
        Write(Reg.Len, length);
        Write(Reg.Doorbell, Reg.DoorbellCopy);
        return (DmaTestStatus)Read(Reg.Status);
    }

    /// <summary>Programs and rings a fill; returns STATUS.</summary>
    public DmaTestStatus Fill(ulong dst, ulong length, ulong pattern)
    {
        Write(Reg.Dst, dst);
        Write(Reg.Len, length);
        Write(Reg.Pattern, pattern);
        Write(Reg.Doorbell, Reg.DoorbellFill);
        return (DmaTestStatus)Read(Reg.Status);
    }

    public byte[] Program(ulong userOffset, int length)
    {
        var bytes = new byte[length];
        Memory.Read(UserBase + userOffset, bytes).ThrowIfError("program read");
        return bytes;
    }

    public void SetProgram(ulong userOffset, ReadOnlySpan<byte> bytes) => Memory.Write(UserBase + userOffset, bytes).ThrowIfError("program write");

    public static byte[] Pattern(int length, int seed) => [.. Enumerable.Range(0, length).Select(i => (byte)((i * 31) ^ (i >> 8) ^ seed))];

    public void Dispose() => Context.Dispose();
}

/// <summary>Writes down every interrupt a function raises, in order.</summary>
internal sealed class RecordingInterruptSink : IPciInterruptSink
{
    public List<(PciInterruptKind Kind, int Vector)> Raised { get; } = [];

    public int Count(PciInterruptKind kind) => Raised.Count(r => r.Kind == kind);

    public void Raise(PciInterruptKind kind, int vector)
    {
        lock (Raised)
            Raised.Add((kind, vector));
    }
}
