namespace IommuFd.Core.Pci;

/// <summary>
/// Offsets and bits of PCI configuration space that the device models and their tests name: the
/// type-0 header, the capability headers, and the fields of the capabilities our devices carry
/// (PCI Express, MSI-X, PASID). Values are the PCI and PCI Express specifications' (the kernel's
/// <c>pci_regs.h</c> spells the same facts).
/// </summary>
public static class PciConfigRegisters
{
    /// <summary>Bytes of conventional configuration space (the header and the capability list).</summary>
    public const int ConventionalSize = 256;

    /// <summary>Bytes of PCI Express configuration space (extended capabilities from 0x100).</summary>
    public const int ExpressSize = 4096;

    /// <summary>16-bit vendor ID.</summary>
    public const int VendorId = 0x00;

    /// <summary>16-bit device ID.</summary>
    public const int DeviceId = 0x02;

    /// <summary>16-bit command register.</summary>
    public const int Command = 0x04;

    /// <summary>16-bit status register.</summary>
    public const int Status = 0x06;

    /// <summary>8-bit revision ID.</summary>
    public const int Revision = 0x08;

    /// <summary>8-bit programming interface (the class code's low byte).</summary>
    public const int ProgIf = 0x09;

    /// <summary>8-bit subclass.</summary>
    public const int Subclass = 0x0A;

    /// <summary>8-bit base class.</summary>
    public const int BaseClass = 0x0B;

    /// <summary>8-bit cache line size.</summary>
    public const int CacheLineSize = 0x0C;

    /// <summary>8-bit latency timer (read-only zero on PCI Express).</summary>
    public const int LatencyTimer = 0x0D;

    /// <summary>8-bit header type (bit 7: multi-function).</summary>
    public const int HeaderType = 0x0E;

    /// <summary>First of the six 32-bit BAR registers.</summary>
    public const int Bar0 = 0x10;

    /// <summary>16-bit subsystem vendor ID.</summary>
    public const int SubsystemVendorId = 0x2C;

    /// <summary>16-bit subsystem ID.</summary>
    public const int SubsystemId = 0x2E;

    /// <summary>32-bit expansion ROM BAR.</summary>
    public const int RomAddress = 0x30;

    /// <summary>8-bit pointer to the first capability.</summary>
    public const int CapabilityPointer = 0x34;

    /// <summary>8-bit interrupt line (what firmware routed INTx to).</summary>
    public const int InterruptLine = 0x3C;

    /// <summary>8-bit interrupt pin: 0 none, 1..4 INTA..INTD.</summary>
    public const int InterruptPin = 0x3D;

    /// <summary>Bytes of the standard header; capabilities live above it.</summary>
    public const int HeaderSize = 0x40;

    /// <summary>Command: respond to I/O space accesses.</summary>
    public const ushort CommandIo = 0x0001;

    /// <summary>Command: respond to memory space accesses (BAR decode).</summary>
    public const ushort CommandMemory = 0x0002;

    /// <summary>Command: the function may master the bus (issue DMA and MSI/MSI-X writes).</summary>
    public const ushort CommandBusMaster = 0x0004;

    /// <summary>Command: report parity errors.</summary>
    public const ushort CommandParity = 0x0040;

    /// <summary>Command: SERR# enable.</summary>
    public const ushort CommandSerr = 0x0100;

    /// <summary>Command: INTx emulation disable.</summary>
    public const ushort CommandIntxDisable = 0x0400;

    /// <summary>Status: INTx asserted (read-only).</summary>
    public const ushort StatusInterrupt = 0x0008;

    /// <summary>Status: the function has a capability list (read-only).</summary>
    public const ushort StatusCapabilityList = 0x0010;

    /// <summary>Status: master data parity error (write 1 to clear).</summary>
    public const ushort StatusMasterParityError = 0x0100;

    /// <summary>Status: signaled target abort (write 1 to clear).</summary>
    public const ushort StatusSignaledTargetAbort = 0x0800;

    /// <summary>Status: received target abort, a completer abort completion (write 1 to clear).</summary>
    public const ushort StatusReceivedTargetAbort = 0x1000;

    /// <summary>Status: received master abort, an unsupported request completion (write 1 to clear).</summary>
    public const ushort StatusReceivedMasterAbort = 0x2000;

    /// <summary>Status: signaled system error (write 1 to clear).</summary>
    public const ushort StatusSignaledSystemError = 0x4000;

    /// <summary>Status: detected parity error (write 1 to clear).</summary>
    public const ushort StatusDetectedParityError = 0x8000;

    /// <summary>Every write-1-to-clear bit of the status register.</summary>
    public const ushort StatusWriteOneToClear = StatusMasterParityError | StatusSignaledTargetAbort
        | StatusReceivedTargetAbort | StatusReceivedMasterAbort | StatusSignaledSystemError | StatusDetectedParityError;

    /// <summary>BAR bit 0: I/O space (else memory).</summary>
    public const uint BarIoSpace = 0x1;

    /// <summary>BAR bits 2:1 = 10b: a 64-bit memory BAR.</summary>
    public const uint BarMemory64 = 0x4;

    /// <summary>BAR bit 3: prefetchable memory.</summary>
    public const uint BarPrefetchable = 0x8;

    /// <summary>A standard capability's ID byte (offset within the capability).</summary>
    public const int CapabilityId = 0;

    /// <summary>A standard capability's next-pointer byte (offset within the capability).</summary>
    public const int CapabilityNext = 1;

    /// <summary>Capability ID of PCI Express.</summary>
    public const byte CapabilityIdExpress = 0x10;

    /// <summary>Capability ID of MSI-X.</summary>
    public const byte CapabilityIdMsix = 0x11;

    /// <summary>Extended capability ID of PASID.</summary>
    public const ushort ExtendedCapabilityIdPasid = 0x001B;

    /// <summary>PCI Express capability: 16-bit capabilities register (version, device/port type).</summary>
    public const int ExpressFlags = 0x02;

    /// <summary>PCI Express capability: 32-bit device capabilities.</summary>
    public const int ExpressDeviceCapabilities = 0x04;

    /// <summary>PCI Express capability: 16-bit device control.</summary>
    public const int ExpressDeviceControl = 0x08;

    /// <summary>PCI Express capability: 16-bit device status.</summary>
    public const int ExpressDeviceStatus = 0x0A;

    /// <summary>PCI Express capability: 32-bit link capabilities.</summary>
    public const int ExpressLinkCapabilities = 0x0C;

    /// <summary>PCI Express capability: 16-bit link control.</summary>
    public const int ExpressLinkControl = 0x10;

    /// <summary>PCI Express capability: 16-bit link status.</summary>
    public const int ExpressLinkStatus = 0x12;

    /// <summary>PCI Express capability: 32-bit device capabilities 2.</summary>
    public const int ExpressDeviceCapabilities2 = 0x24;

    /// <summary>PCI Express capability: 16-bit device control 2.</summary>
    public const int ExpressDeviceControl2 = 0x28;

    /// <summary>PCI Express capability: 32-bit link capabilities 2.</summary>
    public const int ExpressLinkCapabilities2 = 0x2C;

    /// <summary>PCI Express capability: 16-bit link control 2.</summary>
    public const int ExpressLinkControl2 = 0x30;

    /// <summary>Bytes of a version-2 endpoint's PCI Express capability with a link (through link status 2).</summary>
    public const int ExpressEndpointSizeV2 = 0x34;

    /// <summary>Device capabilities: function-level reset supported.</summary>
    public const uint ExpressDeviceCapFlr = 1u << 28;

    /// <summary>Device capabilities: role-based error reporting.</summary>
    public const uint ExpressDeviceCapRoleBasedErrors = 1u << 15;

    /// <summary>Device control: initiate function-level reset (always reads 0).</summary>
    public const ushort ExpressDeviceControlFlr = 0x8000;

    /// <summary>MSI-X capability: 16-bit message control (table size - 1, function mask, enable).</summary>
    public const int MsixControl = 0x02;

    /// <summary>MSI-X capability: 32-bit table offset (bits 31:3) and BAR indicator (bits 2:0).</summary>
    public const int MsixTable = 0x04;

    /// <summary>MSI-X capability: 32-bit pending bit array offset and BAR indicator.</summary>
    public const int MsixPba = 0x08;

    /// <summary>Bytes of the MSI-X capability.</summary>
    public const int MsixCapabilitySize = 12;

    /// <summary>MSI-X message control: table size minus one.</summary>
    public const ushort MsixControlTableSize = 0x07FF;

    /// <summary>MSI-X message control: all vectors masked.</summary>
    public const ushort MsixControlFunctionMask = 0x4000;

    /// <summary>MSI-X message control: MSI-X enabled.</summary>
    public const ushort MsixControlEnable = 0x8000;

    /// <summary>Bytes of one MSI-X table entry (address low, address high, data, vector control).</summary>
    public const int MsixEntrySize = 16;

    /// <summary>An MSI-X table entry's vector control: bit 0 masks the vector.</summary>
    public const int MsixEntryVectorControl = 12;

    /// <summary>Start of extended configuration space (the first extended capability header).</summary>
    public const int ExtendedStart = 0x100;

    /// <summary>PASID capability: 16-bit capability register (bits 12:8 max PASID width).</summary>
    public const int PasidCapabilities = 0x04;

    /// <summary>PASID capability: 16-bit control register (bit 0 enable).</summary>
    public const int PasidControl = 0x06;

    /// <summary>Bytes of the PASID extended capability.</summary>
    public const int PasidCapabilitySize = 8;

    /// <summary>PASID control: PASID enabled.</summary>
    public const ushort PasidControlEnable = 0x0001;

    /// <summary>An extended capability header: ID (bits 15:0), version (19:16), next offset (31:20).</summary>
    public static uint ExtendedHeader(ushort id, int version, int next) => id | ((uint)version << 16) | ((uint)next << 20);
}
