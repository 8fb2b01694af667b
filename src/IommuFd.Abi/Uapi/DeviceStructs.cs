using System.Runtime.InteropServices;

namespace IommuFd.Abi.Uapi;

// Byte-exact layouts of the device, HWPT and vIOMMU command structs (include/uapi/linux/iommufd.h, v6.18).

[StructLayout(LayoutKind.Sequential)]
public record struct IommuHwptAlloc
{
    public uint Size;
    public uint Flags;
    public uint DevId;
    public uint PtId;
    public uint OutHwptId;
    public uint Reserved;
    public uint DataType;
    public uint DataLen;
    public ulong DataUptr;
    public uint FaultId;
    public uint Reserved2;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuHwInfo
{
    public uint Size;
    public uint Flags;
    public uint DevId;
    public uint DataLen;
    public ulong DataUptr;
    /// <summary>in_data_type on input, out_data_type on output (a union in C).</summary>
    public uint DataType;
    public byte OutMaxPasidLog2;
    public byte Reserved0;
    public byte Reserved1;
    public byte Reserved2;
    public ulong OutCapabilities;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuHwptInvalidate
{
    public uint Size;
    public uint HwptId;
    public ulong DataUptr;
    public uint DataType;
    public uint EntryLen;
    public uint EntryNum;
    public uint Reserved;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuVfioIoas
{
    public uint Size;
    public uint IoasId;
    public ushort Op;
    public ushort Reserved;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuViommuAlloc
{
    public uint Size;
    public uint Flags;
    public uint Type;
    public uint DevId;
    public uint HwptId;
    public uint OutViommuId;
    public uint DataLen;
    public uint Reserved;
    public ulong DataUptr;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuVdeviceAlloc
{
    public uint Size;
    public uint ViommuId;
    public uint DevId;
    public uint OutVdeviceId;
    public ulong VirtId;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuVeventqAlloc
{
    public uint Size;
    public uint Flags;
    public uint ViommuId;
    public uint Type;
    public uint VeventqDepth;
    public uint OutVeventqId;
    public uint OutVeventqFd;
    public uint Reserved;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuHwQueueAlloc
{
    public uint Size;
    public uint Flags;
    public uint ViommuId;
    public uint Type;
    public uint Index;
    public uint OutHwQueueId;
    public ulong NestingParentIova;
    public ulong Length;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIoasChangeProcess
{
    public uint Size;
    public uint Reserved;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIoasMapFile
{
    public uint Size;
    public uint Flags;
    public uint IoasId;
    public int Fd;
    public ulong Start;
    public ulong Length;
    public ulong Iova;
}

/// <summary>Values used by the structs above.</summary>
public static class DeviceUapiValues
{
    public const uint HwInfoFlagInputType = 1;
    public const uint HwptDataNone = 0;
    public const ushort VfioIoasGet = 0;
    public const ushort VfioIoasSet = 1;
    public const ushort VfioIoasClear = 2;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuFaultAlloc
{
    public uint Size;
    public uint Flags;
    public uint OutFaultId;
    public uint OutFaultFd;
}

/// <summary>One record read from a fault queue fd (struct iommu_hwpt_pgfault).</summary>
[StructLayout(LayoutKind.Sequential)]
public record struct IommuHwptPgfault
{
    public uint Flags;
    public uint DevId;
    public uint Pasid;
    public uint GroupId;
    public uint Perm;
    public uint Reserved;
    public ulong Addr;
    public uint Length;
    public uint Cookie;
}

/// <summary>One answer written to a fault queue fd (struct iommu_hwpt_page_response).</summary>
[StructLayout(LayoutKind.Sequential)]
public record struct IommuHwptPageResponse
{
    public uint Cookie;
    public uint Code;
}
