using System.Runtime.InteropServices;

namespace IommuFd.Abi.Uapi;

// Facts from include/uapi/linux/iommufd.h: struct iommu_hwpt_set_dirty_tracking (16 bytes, last
// field __reserved) and struct iommu_hwpt_get_dirty_bitmap (48 bytes, last field data).

[StructLayout(LayoutKind.Sequential)]
public record struct IommuHwptSetDirtyTracking
{
    public uint Size;
    public uint Flags;
    public uint HwptId;
    public uint Reserved;
}

[StructLayout(LayoutKind.Sequential)]
public record struct IommuHwptGetDirtyBitmap
{
    public uint Size;
    public uint HwptId;
    public uint Flags;
    public uint Reserved;
    public ulong Iova;
    public ulong Length;
    public ulong PageSize;
    public ulong Data;
}

/// <summary>The self-test's DIRTY op payload (iommu_test_cmd.dirty).</summary>
[StructLayout(LayoutKind.Sequential)]
public record struct TestDirty
{
    public uint Flags;
    public ulong Iova;
    public ulong Length;
    public ulong PageSize;
    public ulong Uptr;
    public ulong OutNrDirty;
}

/// <summary>Flag values of the dirty-tracking commands.</summary>
public static class DirtyUapiValues
{
    /// <summary>IOMMU_HWPT_DIRTY_TRACKING_ENABLE.</summary>
    public const uint TrackingEnable = 1;

    /// <summary>IOMMU_HWPT_GET_DIRTY_BITMAP_NO_CLEAR.</summary>
    public const uint BitmapNoClear = 1;
}
