using System.Runtime.InteropServices;

namespace IommuFd.Abi.Uapi;

// The self-test protocol (facts from drivers/iommu/iommufd/iommufd_test.h): struct iommu_test_cmd is a
// 16-byte header, a 48-byte union at offset 16 and a u32 `last` at 64 (72 bytes with padding).

[StructLayout(LayoutKind.Explicit, Size = 72)]
public record struct IommuTestCmd
{
    [FieldOffset(0)] public uint Size;
    [FieldOffset(4)] public uint Op;
    [FieldOffset(8)] public uint Id;
    [FieldOffset(12)] public uint Reserved;
    [FieldOffset(16)] public TestAddReserved AddReserved;
    [FieldOffset(16)] public TestMockDomain MockDomain;
    [FieldOffset(16)] public TestMockDomainReplace MockDomainReplace;
    [FieldOffset(16)] public TestCheckMap CheckMap;
    [FieldOffset(16)] public TestCheckRefs CheckRefs;
    [FieldOffset(16)] public TestMemoryLimit MemoryLimit;
    [FieldOffset(16)] public TestCheckDevCache CheckDevCache;
    [FieldOffset(16)] public TestCreateAccess CreateAccess;
    [FieldOffset(16)] public TestDestroyAccessPages DestroyAccessPages;
    [FieldOffset(16)] public TestAccessPages AccessPages;
    [FieldOffset(16)] public TestAccessRw AccessRw;
    [FieldOffset(16)] public TestAccessReplaceIoas AccessReplaceIoas;
    [FieldOffset(16)] public TestCheckIotlb CheckIotlb;
    [FieldOffset(16)] public TestTriggerIopf TriggerIopf;
    [FieldOffset(16)] public TestDirty Dirty;
    [FieldOffset(16)] public TestPasidTarget PasidAttach;
    [FieldOffset(16)] public TestPasidTarget PasidReplace;
    [FieldOffset(16)] public TestPasidTarget PasidDetach;
    [FieldOffset(16)] public TestPasidCheck PasidCheck;
    /// <summary>trigger_vevent.dev_id.</summary>
    [FieldOffset(16)] public uint TriggerVeventDevId;
    [FieldOffset(64)] public uint Last;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestAddReserved
{
    public ulong Start;
    public ulong Length;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestMockDomain
{
    public uint OutStdevId;
    public uint OutHwptId;
    public uint OutIdevId;
    public uint DevFlags;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestMockDomainReplace
{
    public uint PtId;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestCheckMap
{
    public ulong Iova;
    public ulong Length;
    public ulong Uptr;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestCheckRefs
{
    public ulong Length;
    public ulong Uptr;
    public uint Refs;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestMemoryLimit
{
    public uint Limit;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestCheckDevCache
{
    public uint Id;
    public uint Cache;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestCreateAccess
{
    public uint OutAccessFd;
    public uint Flags;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestDestroyAccessPages
{
    public uint AccessPagesId;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestAccessPages
{
    public uint Flags;
    public uint OutAccessPagesId;
    public ulong Iova;
    public ulong Length;
    public ulong Uptr;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestAccessRw
{
    public ulong Iova;
    public ulong Length;
    public ulong Uptr;
    public uint Flags;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestAccessReplaceIoas
{
    public uint IoasId;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestCheckIotlb
{
    public uint Id;
    public uint Iotlb;
}

[StructLayout(LayoutKind.Sequential)]
public record struct TestTriggerIopf
{
    public uint DevId;
    public uint Pasid;
    public uint GroupId;
    public uint Perm;
    public ulong Addr;
}

/// <summary>PASID_ATTACH / PASID_REPLACE (pasid, pt_id) and PASID_DETACH (pasid only); @id is the self-test device.</summary>
[StructLayout(LayoutKind.Sequential)]
public record struct TestPasidTarget
{
    public uint Pasid;
    public uint PtId;
}

/// <summary>PASID_CHECK_HWPT: hwpt_id 0 checks that nothing is attached at the PASID.</summary>
[StructLayout(LayoutKind.Sequential)]
public record struct TestPasidCheck
{
    public uint Pasid;
    public uint HwptId;
}

/// <summary>Flag values of the access ops (MOCK_FLAGS_ACCESS_*, MOCK_ACCESS_RW_*).</summary>
public static class TestAccessFlags
{
    public const uint CreateNeedsPinPages = 1 << 0;
    public const uint PagesWrite = 1 << 0;
    public const uint Syzkaller = 1 << 16;
    public const uint RwWrite = 1 << 0;
    public const uint RwSlowPath = 1 << 2;

    /// <summary>The mock refuses single requests above this many bytes (ENOMEM).</summary>
    public const ulong MaxRequestBytes = 16 << 20;
}

/// <summary>IOMMU_TEST_OP_* numbers.</summary>
public static class TestOps
{
    public const uint AddReserved = 1;
    public const uint MockDomain = 2;
    public const uint MdCheckMap = 3;
    public const uint MdCheckRefs = 4;
    public const uint CreateAccess = 5;
    public const uint DestroyAccessPages = 6;
    public const uint AccessPages = 7;
    public const uint AccessRw = 8;
    public const uint SetTempMemoryLimit = 9;
    public const uint MockDomainReplace = 10;
    public const uint AccessReplaceIoas = 11;
    public const uint MockDomainFlags = 12;
    public const uint Dirty = 13;
    public const uint MdCheckIotlb = 14;
    public const uint TriggerIopf = 15;
    public const uint DevCheckCache = 16;
    public const uint TriggerVevent = 17;
    public const uint PasidAttach = 18;
    public const uint PasidReplace = 19;
    public const uint PasidDetach = 20;
    public const uint PasidCheckHwpt = 21;
}
