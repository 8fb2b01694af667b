using System.Runtime.CompilerServices;
using IommuFd.Abi.Uapi;

namespace IommuFd.Abi.Tests.Infrastructure;

/// <summary>
/// The uAPI facts the tests rely on, written out from include/uapi/linux/iommufd.h (v6.18) rather
/// than taken from the engine, so a wrong constant in the engine shows up as a failing test.
/// </summary>
public static class Header
{
    // _IO(';', nr): direction and size bits are zero, type ';' (0x3b) in bits 8..15.
    public const uint Destroy = 0x3b80;
    public const uint IoasAlloc = 0x3b81;
    public const uint IoasAllowIovas = 0x3b82;
    public const uint IoasCopy = 0x3b83;
    public const uint IoasIovaRanges = 0x3b84;
    public const uint IoasMap = 0x3b85;
    public const uint IoasUnmap = 0x3b86;
    public const uint Option = 0x3b87;
    public const uint VfioIoas = 0x3b88;
    public const uint HwptAlloc = 0x3b89;
    public const uint GetHwInfo = 0x3b8a;
    public const uint HwptSetDirtyTracking = 0x3b8b;
    public const uint HwptGetDirtyBitmap = 0x3b8c;
    public const uint HwptInvalidate = 0x3b8d;
    public const uint FaultQueueAlloc = 0x3b8e;
    public const uint IoasMapFile = 0x3b8f;
    public const uint ViommuAlloc = 0x3b90;
    public const uint VdeviceAlloc = 0x3b91;
    public const uint VeventqAlloc = 0x3b93;
    public const uint HwQueueAlloc = 0x3b94;
    public const uint IoasChangeProcess = 0x3b92;

    /// <summary>IOMMU_TEST_CMD = _IO(';', 0x80 + 32), from drivers/iommu/iommufd/iommufd_test.h.</summary>
    public const uint TestCmd = 0x3ba0;

    // struct sizes in bytes
    public const int DestroySize = 8;
    public const int IoasAllocSize = 12;
    public const int IovaRangeSize = 16;
    public const int IoasIovaRangesSize = 32;
    public const int IoasAllowIovasSize = 24;
    public const int IoasMapSize = 40;
    public const int IoasCopySize = 40;
    public const int IoasUnmapSize = 24;
    public const int OptionSize = 24;
    public const int VfioIoasSize = 12;
    public const int HwptAllocSize = 48;
    public const int HwptAllocMinSize = 24; // offsetofend(__reserved)
    public const int HwInfoSize = 40;
    public const int HwInfoMinSize = 32; // offsetofend(__reserved)
    public const int HwptInvalidateSize = 32;
    public const int HwptSetDirtyTrackingSize = 16; // last field __reserved
    public const int HwptGetDirtyBitmapSize = 48; // last field data
    public const int FaultAllocSize = 16;
    public const int IoasMapFileSize = 40;
    public const int ViommuAllocSize = 40;
    public const int ViommuAllocMinSize = 24; // offsetofend(out_viommu_id)
    public const int VdeviceAllocSize = 24;
    public const int IoasChangeProcessSize = 8;
    public const int TestCmdSize = 72;
    public const int TestCmdMinSize = 68; // offsetofend(last)

    // enum iommufd_ioas_map_flags
    public const uint FixedIova = 1 << 0;
    public const uint Writeable = 1 << 1;
    public const uint Readable = 1 << 2;
    public const uint ReadWrite = Readable | Writeable;

    // enum iommufd_option / iommufd_option_ops
    public const uint OptionRlimitMode = 0;
    public const uint OptionHugePages = 1;
    public const ushort OpSet = 0;
    public const ushort OpGet = 1;

    /// <summary>The ioctl number for a uAPI struct type.</summary>
    public static uint NumberOf<T>() where T : unmanaged =>
        typeof(T) == typeof(IommuDestroy) ? Destroy
        : typeof(T) == typeof(IommuIoasAlloc) ? IoasAlloc
        : typeof(T) == typeof(IommuIoasAllowIovas) ? IoasAllowIovas
        : typeof(T) == typeof(IommuIoasCopy) ? IoasCopy
        : typeof(T) == typeof(IommuIoasIovaRanges) ? IoasIovaRanges
        : typeof(T) == typeof(IommuIoasMap) ? IoasMap
        : typeof(T) == typeof(IommuIoasUnmap) ? IoasUnmap
        : typeof(T) == typeof(IommuOption) ? Option
        : typeof(T) == typeof(IommuVfioIoas) ? VfioIoas
        : typeof(T) == typeof(IommuHwptAlloc) ? HwptAlloc
        : typeof(T) == typeof(IommuHwInfo) ? GetHwInfo
        : typeof(T) == typeof(IommuHwptInvalidate) ? HwptInvalidate
        : typeof(T) == typeof(IommuHwptSetDirtyTracking) ? HwptSetDirtyTracking
        : typeof(T) == typeof(IommuHwptGetDirtyBitmap) ? HwptGetDirtyBitmap
        : typeof(T) == typeof(IommuFaultAlloc) ? FaultQueueAlloc
        : typeof(T) == typeof(IommuIoasMapFile) ? IoasMapFile
        : typeof(T) == typeof(IommuViommuAlloc) ? ViommuAlloc
        : typeof(T) == typeof(IommuVdeviceAlloc) ? VdeviceAlloc
        : typeof(T) == typeof(IommuVeventqAlloc) ? VeventqAlloc
        : typeof(T) == typeof(IommuHwQueueAlloc) ? HwQueueAlloc
        : typeof(T) == typeof(IommuIoasChangeProcess) ? IoasChangeProcess
        : typeof(T) == typeof(IommuTestCmd) ? TestCmd
        : throw new ArgumentException($"{typeof(T).Name} is not an ioctl struct");

    public static uint SizeOf<T>() where T : unmanaged => (uint)Unsafe.SizeOf<T>();
}

/// <summary>Builders for command structs with <c>size</c> filled in.</summary>
public static class Cmd
{
    public static IommuDestroy Destroy(uint id) => new() { Size = Header.SizeOf<IommuDestroy>(), Id = id };

    public static IommuIoasAlloc IoasAlloc(uint flags = 0) => new() { Size = Header.SizeOf<IommuIoasAlloc>(), Flags = flags };

    public static IommuIoasMap Map(uint ioasId, ulong userVa, ulong length, ulong iova = 0, uint flags = Header.ReadWrite) => new()
    {
        Size = Header.SizeOf<IommuIoasMap>(),
        Flags = flags,
        IoasId = ioasId,
        UserVa = userVa,
        Length = length,
        Iova = iova,
    };

    public static IommuIoasMap MapFixed(uint ioasId, ulong iova, ulong userVa, ulong length, uint flags = Header.ReadWrite) =>
        Map(ioasId, userVa, length, iova, flags | Header.FixedIova);

    public static IommuIoasCopy Copy(uint dstIoasId, uint srcIoasId, ulong srcIova, ulong length, ulong dstIova = 0, uint flags = Header.ReadWrite) => new()
    {
        Size = Header.SizeOf<IommuIoasCopy>(),
        Flags = flags,
        DstIoasId = dstIoasId,
        SrcIoasId = srcIoasId,
        Length = length,
        DstIova = dstIova,
        SrcIova = srcIova,
    };

    public static IommuIoasUnmap Unmap(uint ioasId, ulong iova, ulong length) => new()
    {
        Size = Header.SizeOf<IommuIoasUnmap>(),
        IoasId = ioasId,
        Iova = iova,
        Length = length,
    };

    public static IommuIoasIovaRanges IovaRanges(uint ioasId, uint numIovas, ulong array) => new()
    {
        Size = Header.SizeOf<IommuIoasIovaRanges>(),
        IoasId = ioasId,
        NumIovas = numIovas,
        AllowedIovas = array,
    };

    public static IommuIoasAllowIovas AllowIovas(uint ioasId, uint numIovas, ulong array) => new()
    {
        Size = Header.SizeOf<IommuIoasAllowIovas>(),
        IoasId = ioasId,
        NumIovas = numIovas,
        AllowedIovas = array,
    };

    public static IommuOption Option(uint optionId, ushort op, uint objectId = 0, ulong val64 = 0) => new()
    {
        Size = Header.SizeOf<IommuOption>(),
        OptionId = optionId,
        Op = op,
        ObjectId = objectId,
        Val64 = val64,
    };
}
