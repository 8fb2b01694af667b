using System.Buffers.Binary;
using IommuFd.Core.Dma;
using IommuFd.Core.Machines;
using R = IommuFd.Core.Pci.PciConfigRegisters;
using Reg = IommuFd.Core.Pci.DmaTestRegisters;

namespace IommuFd.Core.Pci;

/// <summary>
/// The built-in DMA test device (docs/dma-test-device.md): a PCI Express function whose BAR0
/// registers copy and fill IOVA ranges through the DMA port it is connected to, so every byte
/// goes through the IOMMU's translation, IOTLB, faults and dirty tracking. A doorbell write runs
/// the whole operation before it returns. When an operation ends (done or fault) the function
/// raises MSI-X vector 0 and, unless the command register disables INTx, INTx: the VFIO layer
/// delivers the one its VFIO_DEVICE_SET_IRQS mode names (only one mode is active at a time, as
/// under vfio-pci, where the host enables MSI-X in hardware when the program asks for it).
/// One lock serialises config, BAR and DMA; interrupts are raised after it is released.
/// </summary>
public sealed class DmaTestFunction : IPciFunction
{
    private readonly Lock _lock = new();
    private readonly PciConfigSpace _config;
    private readonly VfioConfigView _view;
    private readonly MsixTable _msix = new(DmaTestConfig.MsixVectors, DmaTestConfig.MsixTableOffset, DmaTestConfig.MsixPbaOffset);
    private readonly DmaTestEngine _engine = new();
    private volatile DmaPort? _port;
    private volatile IPciInterruptSink? _sink;
    private ulong _src, _dst, _len, _pasid, _pattern, _faultIova, _completed;
    private DmaTestStatus _status;
    private DmaTestFaultReason _faultReason;

    /// <summary>The device at <paramref name="address"/>, issuing PASIDs of up to <paramref name="pasidWidth"/> bits (0: none).</summary>
    public DmaTestFunction(PciAddress address, int pasidWidth)
    {
        Address = address;
        PasidWidth = pasidWidth;
        _config = DmaTestConfig.Build(address, pasidWidth);
        _view = new VfioConfigView(_config);
    }

    /// <inheritdoc/>
    public PciAddress Address { get; }

    /// <inheritdoc/>
    public int ConfigSize => _config.Size;

    /// <inheritdoc/>
    public int PasidWidth { get; }

    /// <summary>The fault-reporting side, to pass to <see cref="IommuInstance.OpenDma"/>.</summary>
    public DmaTestModel Model { get; } = new();

    /// <inheritdoc/>
    public IDmaDeviceModel DmaModel => Model;

    /// <inheritdoc/>
    public PciInterruptCounts Interrupts => new(Intx: 1, Msi: 0, Msix: DmaTestConfig.MsixVectors);

    /// <inheritdoc/>
    public PciBarInfo Bar(int index) => index == 0 ? new PciBarInfo(DmaTestConfig.Bar0Size, PciBarFlags.Memory) : default;

    /// <inheritdoc/>
    public void ConnectInterrupts(IPciInterruptSink? sink) => _sink = sink;

    /// <inheritdoc/>
    public void ConnectDma(DmaPort? port) => _port = port;

    /// <summary>Reads the device's own config space, before vfio-pci's view hides anything (e.g. the PASID capability).</summary>
    public Errno ReadPhysicalConfig(int offset, Span<byte> destination)
    {
        lock (_lock)
            return _config.Read(offset, destination);
    }

    /// <inheritdoc/>
    public Errno ReadConfig(int offset, Span<byte> destination)
    {
        lock (_lock)
            return _view.Read(offset, destination);
    }

    /// <inheritdoc/>
    /// <remarks>Writing 1 to device control's FLR bit resets the function after the write.</remarks>
    public Errno WriteConfig(int offset, ReadOnlySpan<byte> source)
    {
        lock (_lock)
        {
            var rc = _view.Write(offset, source);
            if (rc != Errno.Ok)
                return rc;
            var flrByte = DmaTestConfig.ExpressOffset + R.ExpressDeviceControl + 1 - offset;
            if ((uint)flrByte < (uint)source.Length && (source[flrByte] & (R.ExpressDeviceControlFlr >> 8)) != 0)
                ResetLocked();
            return Errno.Ok;
        }
    }

    /// <inheritdoc/>
    /// <returns>EINVAL outside BAR0 or for a register access that is not 8 aligned bytes; EIO while memory decode is off (as vfio-pci answers).</returns>
    public Errno ReadBar(int index, ulong offset, Span<byte> destination)
    {
        lock (_lock)
        {
            var rc = CheckAccess(index, offset, destination.Length);
            if (rc != Errno.Ok)
                return rc;
            if (_msix.Contains(offset, destination.Length))
                return _msix.Read(offset, destination);
            if (offset >= Reg.End)
            {
                destination.Clear();
                return Errno.Ok;
            }
            BinaryPrimitives.WriteUInt64LittleEndian(destination, RegisterLocked((int)offset));
            return Errno.Ok;
        }
    }

    /// <inheritdoc/>
    /// <returns>As <see cref="ReadBar"/>; a DOORBELL write runs the operation before it returns.</returns>
    public Errno WriteBar(int index, ulong offset, ReadOnlySpan<byte> source)
    {
        bool ended, intx;
        lock (_lock)
        {
            var rc = CheckAccess(index, offset, source.Length);
            if (rc != Errno.Ok)
                return rc;
            if (_msix.Contains(offset, source.Length))
                return _msix.Write(offset, source);
            if (offset >= Reg.End)
                return Errno.Ok;
            ended = WriteRegisterLocked((int)offset, BinaryPrimitives.ReadUInt64LittleEndian(source));
            intx = (_config.Get16(R.Command) & R.CommandIntxDisable) == 0;
        }
        if (ended && _sink is { } sink)
        {
            sink.Raise(PciInterruptKind.Msix, 0);
            if (intx)
                sink.Raise(PciInterruptKind.Intx, 0);
        }
        return Errno.Ok;
    }

    /// <inheritdoc/>
    /// <remarks>Registers to 0 (STATUS idle), MSI-X entries masked, config space to power-on (bus mastering off, memory decode on).</remarks>
    public void Reset()
    {
        lock (_lock)
            ResetLocked();
    }

    private void ResetLocked()
    {
        _src = _dst = _len = _pasid = _pattern = _faultIova = _completed = 0;
        _status = DmaTestStatus.Idle;
        _faultReason = DmaTestFaultReason.None;
        _config.RestorePowerOn();
        _msix.Reset();
    }

    /// <summary>BAR0 only, inside it, memory decode on; registers take 8 aligned bytes, the MSI-X structures 4 or 8, the rest anything.</summary>
    private Errno CheckAccess(int index, ulong offset, int length)
    {
        if (index != 0 || length == 0 || offset >= DmaTestConfig.Bar0Size || (ulong)length > DmaTestConfig.Bar0Size - offset)
            return Errno.EINVAL;
        if ((_config.Get16(R.Command) & R.CommandMemory) == 0)
            return Errno.EIO;
        var end = offset + (ulong)length;
        if (offset < Reg.End && (length != Reg.Width || offset % Reg.Width != 0))
            return Errno.EINVAL;
        if (_msix.Contains(offset, length))
            return Errno.Ok;
        // Partly in the MSI-X table or PBA: neither a table access nor reserved space.
        var tableEnd = (ulong)(_msix.TableOffset + _msix.Vectors * R.MsixEntrySize);
        var pbaEnd = (ulong)(_msix.PbaOffset + _msix.PbaSize);
        if ((offset < tableEnd && end > (ulong)_msix.TableOffset) || (offset < pbaEnd && end > (ulong)_msix.PbaOffset))
            return Errno.EINVAL;
        return Errno.Ok;
    }

    private ulong RegisterLocked(int offset) => offset switch
    {
        Reg.Id => Reg.IdValue,
        Reg.Src => _src,
        Reg.Dst => _dst,
        Reg.Len => _len,
        Reg.Pasid => _pasid,
        Reg.Pattern => _pattern,
        Reg.Status => (ulong)_status,
        Reg.FaultIova => _faultIova,
        Reg.FaultReason => (ulong)_faultReason,
        Reg.Completed => _completed,
        _ => 0, // DOORBELL is write-only
    };

    /// <summary>Stores a register; true when the write ended an operation (a doorbell).</summary>
    private bool WriteRegisterLocked(int offset, ulong value)
    {
        switch (offset)
        {
            case Reg.Src: _src = value; break;
            case Reg.Dst: _dst = value; break;
            case Reg.Len: _len = value; break;
            case Reg.Pasid: _pasid = value & (Reg.PasidEnable | Reg.PasidValueMask); break;
            case Reg.Pattern: _pattern = value; break;
            case Reg.Doorbell: return RingLocked(value);
        }
        return false;
    }

    /// <summary>Runs a copy or fill to its end; other doorbell values are ignored.</summary>
    private bool RingLocked(ulong command)
    {
        if (command is not (Reg.DoorbellCopy or Reg.DoorbellFill))
            return false;
        var copy = command == Reg.DoorbellCopy;
        var firstAccess = copy ? _src : _dst;
        var port = _port;
        var reason = Refusal(port);
        DmaFault? fault = null;
        if (reason == DmaTestFaultReason.None && _len != 0)
        {
            var pasid = (_pasid & Reg.PasidEnable) != 0 ? (uint)(_pasid & Reg.PasidValueMask) : Iotlb.NoPasid;
            fault = (copy
                ? _engine.Copy(port!, _src, _dst, _len, pasid)
                : _engine.Fill(port!, _dst, _len, _pattern, pasid)).Fault;
            if (fault is not null)
            {
                reason = DmaTestEngine.ReasonOf(fault);
                // A read the IOMMU refused completes as an unsupported request.
                if (fault.Direction == DmaDirection.Read)
                    _config.Set16(R.Status, (ushort)(_config.Get16(R.Status) | R.StatusReceivedMasterAbort));
            }
        }
        _status = reason == DmaTestFaultReason.None ? DmaTestStatus.Done : DmaTestStatus.Fault;
        _faultReason = reason;
        _faultIova = reason == DmaTestFaultReason.None ? 0 : fault?.Iova ?? firstAccess;
        _completed++;
        return true;
    }

    /// <summary>
    /// Why the device issues nothing at all: bus mastering off (checked first, even for LEN 0), or,
    /// with bytes to move, no port or a PASID it cannot issue (none without PASID support, or wider
    /// than its PASID width). None when it may go ahead.
    /// </summary>
    private DmaTestFaultReason Refusal(DmaPort? port)
    {
        if ((_config.Get16(R.Command) & R.CommandBusMaster) == 0)
            return DmaTestFaultReason.BusMasterOff;
        if (_len == 0)
            return DmaTestFaultReason.None;
        if (port is null)
            return DmaTestFaultReason.Blocked;
        if ((_pasid & Reg.PasidEnable) != 0 && (PasidWidth == 0 || (_pasid & Reg.PasidValueMask) >> PasidWidth != 0))
            return DmaTestFaultReason.Blocked;
        return DmaTestFaultReason.None;
    }
}
