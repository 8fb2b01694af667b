using IommuFd.Core.Machines;
using R = IommuFd.Core.Pci.PciConfigRegisters;

namespace IommuFd.Core.Pci;

/// <summary>
/// The DMA test device's configuration space at power-on, as the host left it when vfio-pci took
/// the device (memory decode on, bus mastering off): a type-0 header with our IDs and class 0x0880,
/// one 4 KiB 32-bit memory BAR0, INTx pin A, a PCI Express endpoint capability (FLR capable) at
/// 0x40, MSI-X with one vector at 0x80 (table and PBA in BAR0), and, when the IOMMU gives the
/// device PASIDs, the PASID extended capability at 0x100 (enabled, as the kernel's IOMMU driver
/// enables it at probe). docs/dma-test-device.md has the whole layout.
/// </summary>
public static class DmaTestConfig
{
    /// <summary>Vendor ID: 0x1234, the ID QEMU's emulated test devices use (no real vendor's products).</summary>
    public const ushort VendorId = 0x1234;

    /// <summary>Device ID of the DMA test device.</summary>
    public const ushort DeviceId = 0x11DA;

    /// <summary>Subsystem vendor ID.</summary>
    public const ushort SubsystemVendorId = VendorId;

    /// <summary>Subsystem ID.</summary>
    public const ushort SubsystemId = 0x0001;

    /// <summary>Revision ID.</summary>
    public const byte Revision = 0x01;

    /// <summary>Base class 0x08 (generic system peripheral).</summary>
    public const byte BaseClass = 0x08;

    /// <summary>Subclass 0x80 (other system peripheral).</summary>
    public const byte Subclass = 0x80;

    /// <summary>Interrupt pin 1: INTA.</summary>
    public const byte InterruptPin = 1;

    /// <summary>The interrupt line firmware wrote (a legacy IRQ number; programs may rewrite it).</summary>
    public const byte InterruptLine = 0x0B;

    /// <summary>Bytes of BAR0.</summary>
    public const uint Bar0Size = 0x1000;

    /// <summary>Offset of the PCI Express capability.</summary>
    public const int ExpressOffset = 0x40;

    /// <summary>Offset of the MSI-X capability.</summary>
    public const int MsixOffset = 0x80;

    /// <summary>Offset of the PASID extended capability (present only with PASID).</summary>
    public const int PasidOffset = R.ExtendedStart;

    /// <summary>MSI-X vectors.</summary>
    public const int MsixVectors = 1;

    /// <summary>Offset of the MSI-X table in BAR0.</summary>
    public const int MsixTableOffset = 0x800;

    /// <summary>Offset of the MSI-X pending bit array in BAR0.</summary>
    public const int MsixPbaOffset = 0xC00;

    /// <summary>Device control's power-on value: relaxed ordering and no-snoop enabled, 512-byte read requests.</summary>
    public const ushort DeviceControlDefault = 0x2810;

    /// <summary>The address the host assigned BAR0: 0xFE00_0000 plus 64 KiB per slot and 4 KiB per function, so devices differ.</summary>
    public static uint Bar0Address(PciAddress address) => 0xFE00_0000u | ((uint)address.Device << 16) | ((uint)address.Function << 12);

    /// <summary>A new power-on configuration space for the device at <paramref name="address"/>; PASID capability when <paramref name="pasidWidth"/> &gt; 0.</summary>
    public static PciConfigSpace Build(PciAddress address, int pasidWidth)
    {
        if (pasidWidth is < 0 or > 20)
            throw new ArgumentOutOfRangeException(nameof(pasidWidth), pasidWidth, "PCIe PASIDs have at most 20 bits");
        var space = new PciConfigSpace(R.ExpressSize);
        Header(space, address);
        Express(space);
        Msix(space);
        if (pasidWidth > 0)
            Pasid(space, pasidWidth);
        space.CapturePowerOn();
        return space;
    }

    private static void Header(PciConfigSpace s, PciAddress address)
    {
        s.Define16(R.VendorId, VendorId);
        s.Define16(R.DeviceId, DeviceId);
        s.Define16(R.Command, R.CommandMemory,
            writable: R.CommandMemory | R.CommandBusMaster | R.CommandParity | R.CommandSerr | R.CommandIntxDisable);
        s.Define16(R.Status, R.StatusCapabilityList, clearable: R.StatusWriteOneToClear);
        s.Define8(R.Revision, Revision);
        s.Define8(R.ProgIf, 0);
        s.Define8(R.Subclass, Subclass);
        s.Define8(R.BaseClass, BaseClass);
        s.Define8(R.CacheLineSize, 0, writable: 0xFF);
        s.Define8(R.HeaderType, 0);
        // 32-bit non-prefetchable memory: the type bits are read-only zero, and so are the address
        // bits below the size, which is what makes all-ones read back as the size mask.
        s.Define32(R.Bar0, Bar0Address(address), writable: ~(Bar0Size - 1));
        s.Define16(R.SubsystemVendorId, SubsystemVendorId);
        s.Define16(R.SubsystemId, SubsystemId);
        s.Define8(R.CapabilityPointer, ExpressOffset);
        s.Define8(R.InterruptLine, InterruptLine, writable: 0xFF);
        s.Define8(R.InterruptPin, InterruptPin);
    }

    private static void Express(PciConfigSpace s)
    {
        const int at = ExpressOffset;
        s.Define8(at + R.CapabilityId, R.CapabilityIdExpress);
        s.Define8(at + R.CapabilityNext, MsixOffset);
        // Version 2, device/port type 0 (PCI Express endpoint).
        s.Define16(at + R.ExpressFlags, 0x0002);
        // 128-byte max payload, role-based error reporting, FLR.
        s.Define32(at + R.ExpressDeviceCapabilities, R.ExpressDeviceCapFlr | R.ExpressDeviceCapRoleBasedErrors);
        // Error reporting enables, relaxed ordering, extended tags, no snoop, max read request;
        // the FLR bit is handled by the function (it triggers a reset and reads 0).
        s.Define16(at + R.ExpressDeviceControl, DeviceControlDefault, writable: 0x791F);
        // Correctable, non-fatal, fatal, unsupported request detected: write 1 to clear.
        s.Define16(at + R.ExpressDeviceStatus, 0, clearable: 0x000F);
        // 2.5 GT/s, x1, port 0.
        s.Define32(at + R.ExpressLinkCapabilities, 0x0000_0011);
        s.Define16(at + R.ExpressLinkControl, 0, writable: 0x00C3);
        s.Define16(at + R.ExpressLinkStatus, 0x0011);
        s.Define32(at + R.ExpressDeviceCapabilities2, 0);
        s.Define16(at + R.ExpressDeviceControl2, 0, writable: 0x001F);
        // Supported link speeds vector: 2.5 GT/s.
        s.Define32(at + R.ExpressLinkCapabilities2, 0x0000_0002);
        s.Define16(at + R.ExpressLinkControl2, 0x0001, writable: 0x000F);
    }

    private static void Msix(PciConfigSpace s)
    {
        const int at = MsixOffset;
        s.Define8(at + R.CapabilityId, R.CapabilityIdMsix);
        s.Define8(at + R.CapabilityNext, 0);
        // Read-only as vfio-pci shows it: the host enables MSI-X on VFIO_DEVICE_SET_IRQS, and
        // vfio-pci drops a program's writes to this capability.
        s.Define16(at + R.MsixControl, MsixVectors - 1);
        s.Define32(at + R.MsixTable, MsixTableOffset | 0u);
        s.Define32(at + R.MsixPba, MsixPbaOffset | 0u);
    }

    private static void Pasid(PciConfigSpace s, int width)
    {
        const int at = PasidOffset;
        s.Define32(at, R.ExtendedHeader(R.ExtendedCapabilityIdPasid, 1, 0));
        // Max PASID width in bits 12:8; no execute or privileged mode.
        s.Define16(at + R.PasidCapabilities, (ushort)(width << 8));
        // Enabled by the host at probe and restored by it after resets; not the program's to change.
        s.Define16(at + R.PasidControl, R.PasidControlEnable);
    }
}
