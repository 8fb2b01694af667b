namespace IommuFd.Abi.Uapi;

/// <summary>
/// iommufd's ioctl numbers (facts from include/uapi/linux/iommufd.h, v6.18): all are
/// <c>_IO(';', nr)</c>, so direction and size bits are zero and the number is 0x3b00 | nr.
/// </summary>
public static class IoctlNumbers
{
    public const uint Type = ';';
    public const uint CommandBase = 0x80;

    public const uint Destroy = 0x80;
    public const uint IoasAlloc = 0x81;
    public const uint IoasAllowIovas = 0x82;
    public const uint IoasCopy = 0x83;
    public const uint IoasIovaRanges = 0x84;
    public const uint IoasMap = 0x85;
    public const uint IoasUnmap = 0x86;
    public const uint Option = 0x87;
    public const uint VfioIoas = 0x88;
    public const uint HwptAlloc = 0x89;
    public const uint GetHwInfo = 0x8a;
    public const uint HwptSetDirtyTracking = 0x8b;
    public const uint HwptGetDirtyBitmap = 0x8c;
    public const uint HwptInvalidate = 0x8d;
    public const uint FaultQueueAlloc = 0x8e;
    public const uint IoasMapFile = 0x8f;
    public const uint ViommuAlloc = 0x90;
    public const uint VdeviceAlloc = 0x91;
    public const uint IoasChangeProcess = 0x92;
    public const uint VeventqAlloc = 0x93;
    public const uint HwQueueAlloc = 0x94;

    /// <summary>The self-test protocol's command (IOMMU_TEST_CMD = _IO(';', 0x80 + 32)).</summary>
    public const uint TestCmd = 0x80 + 32;

    /// <summary><c>_IO(type, nr)</c>.</summary>
    public static uint Io(uint nr) => (Type << 8) | nr;

    /// <summary><c>_IOC_NR(cmd)</c>.</summary>
    public static uint NumberOf(uint cmd) => cmd & 0xff;
}
