namespace IommuFd.Core.Pci;

/// <summary>
/// The DMA test device's BAR0 register file: 64-bit little-endian registers, accessed with
/// naturally aligned 8-byte reads and writes (any other access to them is EINVAL). The MSI-X
/// table and PBA sit higher in the same BAR; everything else in it reads 0 and ignores writes.
/// </summary>
public static class DmaTestRegisters
{
    /// <summary>RO: the ASCII bytes "IOMMUDMA".</summary>
    public const int Id = 0x00;

    /// <summary>RW: source IOVA of a copy.</summary>
    public const int Src = 0x08;

    /// <summary>RW: destination IOVA of a copy or fill.</summary>
    public const int Dst = 0x10;

    /// <summary>RW: bytes to move.</summary>
    public const int Len = 0x18;

    /// <summary>RW: bit 31 set: DMA with the PASID in bits 19:0 (other bits read 0).</summary>
    public const int Pasid = 0x20;

    /// <summary>WO (reads 0): 1 copies, 2 fills; the operation ends before the write returns.</summary>
    public const int Doorbell = 0x28;

    /// <summary>RW: the 8-byte fill pattern, repeated from DST as a little-endian value.</summary>
    public const int Pattern = 0x30;

    /// <summary>RO: <see cref="DmaTestStatus"/>.</summary>
    public const int Status = 0x38;

    /// <summary>RO: IOVA of the first access of the last operation that faulted (0 when it did not).</summary>
    public const int FaultIova = 0x40;

    /// <summary>RO: <see cref="DmaTestFaultReason"/> of the last operation (0 when it did not fault).</summary>
    public const int FaultReason = 0x48;

    /// <summary>RO: operations finished since reset, faulted ones included.</summary>
    public const int Completed = 0x50;

    /// <summary>First byte after the registers.</summary>
    public const int End = 0x58;

    /// <summary>Bytes of one register and of every access to one.</summary>
    public const int Width = 8;

    /// <summary>The value of <see cref="Id"/>: "IOMMUDMA" read as a little-endian 64-bit number.</summary>
    public const ulong IdValue = 0x414D_4455_4D4D_4F49;

    /// <summary>Doorbell: copy LEN bytes from SRC to DST.</summary>
    public const ulong DoorbellCopy = 1;

    /// <summary>Doorbell: fill LEN bytes at DST with PATTERN.</summary>
    public const ulong DoorbellFill = 2;

    /// <summary>PASID register: issue the DMA with a PASID.</summary>
    public const ulong PasidEnable = 1UL << 31;

    /// <summary>PASID register: the PASID value bits.</summary>
    public const ulong PasidValueMask = 0xF_FFFF;
}

/// <summary>What <see cref="DmaTestRegisters.Status"/> reads.</summary>
public enum DmaTestStatus : ulong
{
    /// <summary>No operation since reset.</summary>
    Idle = 0,

    /// <summary>The last operation moved every byte.</summary>
    Done = 1,

    /// <summary>The last operation stopped at a fault (<see cref="DmaTestRegisters.FaultIova"/>, <see cref="DmaTestRegisters.FaultReason"/>).</summary>
    Fault = 2,
}

/// <summary>What <see cref="DmaTestRegisters.FaultReason"/> reads.</summary>
public enum DmaTestFaultReason : ulong
{
    /// <summary>No fault.</summary>
    None = 0,

    /// <summary>Nothing translates the IOVA (or its output reached no memory).</summary>
    NotMapped = 1,

    /// <summary>A translation exists but does not allow the access (e.g. a write to a read-only mapping).</summary>
    Permission = 2,

    /// <summary>The command register's bus-master bit is off: nothing was issued.</summary>
    BusMasterOff = 3,

    /// <summary>Blocked: no port, no attachment, no attachment for the PASID, or a PASID the device cannot issue.</summary>
    Blocked = 4,
}
