using System.Runtime.InteropServices;

namespace IommuFd.Abi.Uapi;

// Byte-exact layouts of the uAPI structs for the IOAS commands (include/uapi/linux/iommufd.h).
// Field names follow the header so a reader can match them; __aligned_u64 fields are ulong.

[StructLayout(LayoutKind.Sequential)]
public record struct IommuDestroy
{
    public uint Size;
    public uint Id;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIoasAlloc
{
    public uint Size;
    public uint Flags;
    public uint OutIoasId;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIovaRange
{
    public ulong Start;
    public ulong Last;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIoasIovaRanges
{
    public uint Size;
    public uint IoasId;
    public uint NumIovas;
    public uint Reserved;
    public ulong AllowedIovas;
    public ulong OutIovaAlignment;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIoasAllowIovas
{
    public uint Size;
    public uint IoasId;
    public uint NumIovas;
    public uint Reserved;
    public ulong AllowedIovas;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIoasMap
{
    public uint Size;
    public uint Flags;
    public uint IoasId;
    public uint Reserved;
    public ulong UserVa;
    public ulong Length;
    public ulong Iova;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIoasCopy
{
    public uint Size;
    public uint Flags;
    public uint DstIoasId;
    public uint SrcIoasId;
    public ulong Length;
    public ulong DstIova;
    public ulong SrcIova;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuIoasUnmap
{
    public uint Size;
    public uint IoasId;
    public ulong Iova;
    public ulong Length;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuOption
{
    public uint Size;
    public uint OptionId;
    public ushort Op;
    public ushort Reserved;
    public uint ObjectId;
    public ulong Val64;
}

/// <summary>Flag and enum values used by the structs above.</summary>
public static class UapiValues
{
    public const uint MapFixedIova = 1 << 0;
    public const uint MapWriteable = 1 << 1;
    public const uint MapReadable = 1 << 2;
    public const uint MapKnownFlags = MapFixedIova | MapWriteable | MapReadable;

    public const uint OptionRlimitMode = 0;
    public const uint OptionHugePages = 1;
    public const ushort OptionOpSet = 0;
    public const ushort OptionOpGet = 1;
}
