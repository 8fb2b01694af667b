using IommuFd.Core.Dma;

namespace IommuFd.Core.Pci;

/// <summary>
/// One emulated PCI function as a VFIO device exposes it: its configuration space, its BARs, its
/// interrupts and its bus-mastering side. The VFIO layer (<c>IommuFd.Core.Vfio</c>) turns regions,
/// IRQ eventfds and bind/attach into calls here; the device model behind it decides what a register
/// access means. Every member may be called from any thread; implementations serialise themselves.
/// </summary>
public interface IPciFunction
{
    /// <summary>Where the function sits on PCI.</summary>
    Machines.PciAddress Address { get; }

    /// <summary>Bytes of configuration space: 256 (conventional) or 4096 (PCI Express).</summary>
    int ConfigSize { get; }

    /// <summary>Reads config space at [offset, +destination.Length) as the VFIO config region shows it.</summary>
    /// <returns>EINVAL when the range leaves config space.</returns>
    Errno ReadConfig(int offset, Span<byte> destination);

    /// <summary>Writes config space; read-only bits and registers keep their values, as on hardware.</summary>
    /// <returns>EINVAL when the range leaves config space.</returns>
    Errno WriteConfig(int offset, ReadOnlySpan<byte> source);

    /// <summary>BAR <paramref name="index"/> (0..5): size 0 when the BAR is not implemented.</summary>
    PciBarInfo Bar(int index);

    /// <summary>Reads [offset, +destination.Length) of BAR <paramref name="index"/> (EINVAL outside it or for an access width the device refuses).</summary>
    Errno ReadBar(int index, ulong offset, Span<byte> destination);

    /// <summary>Writes BAR <paramref name="index"/>; a doorbell write may run DMA before it returns.</summary>
    Errno WriteBar(int index, ulong offset, ReadOnlySpan<byte> source);

    /// <summary>How many interrupts of each kind the function has (0: none of that kind).</summary>
    PciInterruptCounts Interrupts { get; }

    /// <summary>Where the function's interrupts go from now on (null: nowhere, they are dropped).</summary>
    void ConnectInterrupts(IPciInterruptSink? sink);

    /// <summary>The DMA port the function masters through while bound to a context (null: unbound, every DMA is blocked).</summary>
    void ConnectDma(DmaPort? port);

    /// <summary>The model's fault and page-response side, handed to <see cref="Machines.IommuInstance.OpenDma"/>.</summary>
    IDmaDeviceModel DmaModel { get; }

    /// <summary>Width in bits of the PASIDs the function can issue; 0 when it has no PASID capability.</summary>
    int PasidWidth { get; }

    /// <summary>Function-level reset: registers and config space back to their power-on values.</summary>
    void Reset();
}

/// <summary>A BAR's size and kind.</summary>
public readonly record struct PciBarInfo(ulong Size, PciBarFlags Flags)
{
    /// <summary>True when the BAR exists.</summary>
    public bool Implemented => Size != 0;
}

/// <summary>What a BAR decodes.</summary>
[Flags]
public enum PciBarFlags
{
    None = 0,
    /// <summary>Memory space (else I/O space).</summary>
    Memory = 1,
    /// <summary>A 64-bit memory BAR (takes this BAR and the next).</summary>
    Bits64 = 2,
    /// <summary>Prefetchable memory.</summary>
    Prefetchable = 4,
}

/// <summary>The function's interrupt counts, by the kinds VFIO knows.</summary>
public readonly record struct PciInterruptCounts(int Intx, int Msi, int Msix);

/// <summary>The kinds of interrupt a function can raise (VFIO IRQ indexes 0, 1, 2).</summary>
public enum PciInterruptKind
{
    Intx = 0,
    Msi = 1,
    Msix = 2,
}

/// <summary>Receives a function's interrupts (the VFIO layer fires the eventfd set for that vector).</summary>
public interface IPciInterruptSink
{
    /// <summary>The function raised <paramref name="vector"/> of <paramref name="kind"/> (0 for INTx).</summary>
    void Raise(PciInterruptKind kind, int vector);
}
