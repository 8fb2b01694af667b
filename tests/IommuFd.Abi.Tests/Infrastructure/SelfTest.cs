using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests.Infrastructure;

/// <summary>
/// Facts of the kernel's self-test protocol (drivers/iommu/iommufd/iommufd_test.h and selftest.c),
/// written out here rather than taken from the engine.
/// </summary>
public static class Mock
{
    // IOMMU_TEST_OP_*, numbered from 1 in the header's order.
    public const uint OpAddReserved = 1;
    public const uint OpMockDomain = 2;
    public const uint OpMdCheckMap = 3;
    public const uint OpMdCheckRefs = 4;
    public const uint OpSetTempMemoryLimit = 9;
    public const uint OpMockDomainReplace = 10;
    public const uint OpMockDomainFlags = 12;
    public const uint OpDevCheckCache = 16;

    // MOCK_FLAGS_DEVICE_*
    public const uint DeviceNoDirty = 1 << 0;
    public const uint DeviceHugeIovaObsolete = 1 << 1;
    public const uint DevicePasid = 1 << 2;

    /// <summary>MOCK_PAGE_SIZE: the smallest page of the default mock domain.</summary>
    public const ulong PageSize = 2048;
    public const ulong ApertureStart = 0x0100_0000;
    public const ulong ApertureLast = 0x7fff_ffff;

    public const uint HwInfoTypeSelftest = 0xfeedbeef;
    public const uint HwInfoTestReg = 0xdeadbeef;
    public const uint DevCacheDefault = 0xbaddad;
    public const uint HwptDataSelftest = 0xdead;

    // MOCK_IOMMUPT_*
    public const uint PagetableDefault = 0;
    public const uint PagetableHuge = 1;

    /// <summary>The kernel default of the temporary memory limit (iommufd_test_memory_limit).</summary>
    public const uint DefaultTempMemoryLimit = 65536;

    // enum iommufd_hwpt_alloc_flags
    public const uint HwptNestParent = 1 << 0;
    public const uint HwptDirtyTracking = 1 << 1;
    public const uint HwptFaultIdValid = 1 << 2;
    public const uint HwptPasid = 1 << 3;

    public const uint HwInfoFlagInputType = 1;
    public const ulong HwCapDirtyTracking = 1;

    public const ushort VfioIoasGet = 0;
    public const ushort VfioIoasSet = 1;
    public const ushort VfioIoasClear = 2;
}

/// <summary>The three IDs MOCK_DOMAIN reports.</summary>
public readonly record struct MockIds(uint Stdev, uint Hwpt, uint Idev);

/// <summary>Builders for the device, HWPT and self-test structs, size filled in.</summary>
public static class DevCmd
{
    public static IommuTestCmd Test(uint op, uint id = 0) => new() { Size = Header.TestCmdSize, Op = op, Id = id };

    public static IommuHwptAlloc HwptAlloc(uint devId, uint ptId, uint flags = 0, uint dataType = 0, uint dataLen = 0, ulong dataUptr = 0) => new()
    {
        Size = Header.HwptAllocSize,
        Flags = flags,
        DevId = devId,
        PtId = ptId,
        DataType = dataType,
        DataLen = dataLen,
        DataUptr = dataUptr,
    };

    public static IommuHwInfo HwInfo(uint devId, uint dataLen = 0, ulong dataUptr = 0, uint flags = 0, uint inDataType = 0) => new()
    {
        Size = Header.HwInfoSize,
        Flags = flags,
        DevId = devId,
        DataLen = dataLen,
        DataUptr = dataUptr,
        DataType = inDataType,
    };

    public static IommuVfioIoas VfioIoas(ushort op, uint ioasId = 0) => new() { Size = Header.VfioIoasSize, Op = op, IoasId = ioasId };

    public static IommuHwptInvalidate Invalidate(uint hwptId, ulong dataUptr = 0, uint dataType = 0, uint entryLen = 0, uint entryNum = 0) => new()
    {
        Size = Header.HwptInvalidateSize,
        HwptId = hwptId,
        DataUptr = dataUptr,
        DataType = dataType,
        EntryLen = entryLen,
        EntryNum = entryNum,
    };

    public static IommuViommuAlloc ViommuAlloc(uint devId = 0, uint hwptId = 0, uint type = 0, uint flags = 0) => new()
    {
        Size = Header.ViommuAllocSize,
        Flags = flags,
        Type = type,
        DevId = devId,
        HwptId = hwptId,
    };

    public static IommuVdeviceAlloc VdeviceAlloc(uint viommuId = 0, uint devId = 0, ulong virtId = 0) => new()
    {
        Size = Header.VdeviceAllocSize,
        ViommuId = viommuId,
        DevId = devId,
        VirtId = virtId,
    };

    public static IommuIoasChangeProcess ChangeProcess(uint reserved = 0) => new() { Size = Header.IoasChangeProcessSize, Reserved = reserved };
}

/// <summary>Self-test and device commands on an <see cref="AbiSession"/>, each one ioctl through the dispatcher.</summary>
public static class SelfTestSession
{
    /// <summary>MOCK_DOMAIN (or MOCK_DOMAIN_FLAGS when <paramref name="devFlags"/> is given) on an IOAS or HWPT.</summary>
    public static Errno MockDomain(this AbiSession s, uint ptId, out MockIds ids, uint? devFlags = null)
    {
        var cmd = DevCmd.Test(devFlags is null ? Mock.OpMockDomain : Mock.OpMockDomainFlags, ptId);
        cmd.MockDomain.DevFlags = devFlags ?? 0;
        var rc = s.Ioctl(ref cmd);
        ids = new MockIds(cmd.MockDomain.OutStdevId, cmd.MockDomain.OutHwptId, cmd.MockDomain.OutIdevId);
        return rc;
    }

    /// <summary>MOCK_DOMAIN that must succeed.</summary>
    public static MockIds AddMock(this AbiSession s, uint ptId, uint? devFlags = null)
    {
        Assert.Equal(Errno.Ok, s.MockDomain(ptId, out var ids, devFlags));
        Assert.NotEqual(0u, ids.Stdev);
        Assert.NotEqual(0u, ids.Hwpt);
        Assert.NotEqual(0u, ids.Idev);
        return ids;
    }

    /// <summary>MOCK_DOMAIN_REPLACE; <paramref name="actual"/> is pt_id as read back.</summary>
    public static Errno MockReplace(this AbiSession s, uint stdevId, uint ptId, out uint actual)
    {
        var cmd = DevCmd.Test(Mock.OpMockDomainReplace, stdevId);
        cmd.MockDomainReplace.PtId = ptId;
        var rc = s.Ioctl(ref cmd);
        actual = cmd.MockDomainReplace.PtId;
        return rc;
    }

    public static Errno CheckMap(this AbiSession s, uint hwptId, ulong iova, ulong length, ulong uptr)
    {
        var cmd = DevCmd.Test(Mock.OpMdCheckMap, hwptId);
        cmd.CheckMap = new TestCheckMap { Iova = iova, Length = length, Uptr = uptr };
        return s.Ioctl(ref cmd);
    }

    public static Errno CheckRefs(this AbiSession s, ulong uptr, ulong length, uint refs)
    {
        var cmd = DevCmd.Test(Mock.OpMdCheckRefs);
        cmd.CheckRefs = new TestCheckRefs { Length = length, Uptr = uptr, Refs = refs };
        return s.Ioctl(ref cmd);
    }

    /// <summary>The ADD_RESERVED op itself (start and length), unlike <see cref="AbiSession.AddReserved"/>.</summary>
    public static Errno AddReservedOp(this AbiSession s, uint ioasId, ulong start, ulong length)
    {
        var cmd = DevCmd.Test(Mock.OpAddReserved, ioasId);
        cmd.AddReserved = new TestAddReserved { Start = start, Length = length };
        return s.Ioctl(ref cmd);
    }

    public static Errno SetTempMemoryLimit(this AbiSession s, uint limit)
    {
        var cmd = DevCmd.Test(Mock.OpSetTempMemoryLimit);
        cmd.MemoryLimit.Limit = limit;
        return s.Ioctl(ref cmd);
    }

    public static Errno DevCheckCache(this AbiSession s, uint idevId, uint cacheId, uint value)
    {
        var cmd = DevCmd.Test(Mock.OpDevCheckCache, idevId);
        cmd.CheckDevCache = new TestCheckDevCache { Id = cacheId, Cache = value };
        return s.Ioctl(ref cmd);
    }

    public static Errno HwptAlloc(this AbiSession s, IommuHwptAlloc cmd, out IommuHwptAlloc after)
    {
        var rc = s.Ioctl(ref cmd);
        after = cmd;
        return rc;
    }

    /// <summary>HWPT_ALLOC with no driver data that must succeed; returns the new HWPT's ID.</summary>
    public static uint AllocHwpt(this AbiSession s, uint devId, uint ptId, uint flags = 0)
    {
        Assert.Equal(Errno.Ok, s.HwptAlloc(DevCmd.HwptAlloc(devId, ptId, flags), out var after));
        Assert.NotEqual(0u, after.OutHwptId);
        return after.OutHwptId;
    }

    /// <summary>
    /// HWPT_ALLOC with IOMMU_HWPT_DATA_SELFTEST: struct iommu_hwpt_selftest { u32 iotlb; u32 pagetable_type; }
    /// placed in user memory, of which <paramref name="dataLen"/> bytes are passed.
    /// </summary>
    public static Errno HwptAllocSelftest(this AbiSession s, uint devId, uint ptId, uint dataLen, uint pagetableType, out uint hwptId, uint dataType = Mock.HwptDataSelftest)
    {
        var data = s.Heap.Alloc(64);
        s.Heap.Write(data, 0u);
        s.Heap.Write(data + 4, pagetableType);
        var rc = s.HwptAlloc(DevCmd.HwptAlloc(devId, ptId, dataType: dataType, dataLen: dataLen, dataUptr: data), out var after);
        hwptId = after.OutHwptId;
        return rc;
    }

    public static Errno HwInfo(this AbiSession s, IommuHwInfo cmd, out IommuHwInfo after)
    {
        var rc = s.Ioctl(ref cmd);
        after = cmd;
        return rc;
    }

    public static Errno VfioIoas(this AbiSession s, ushort op, uint ioasId, out uint outIoasId)
    {
        var cmd = DevCmd.VfioIoas(op, ioasId);
        var rc = s.Ioctl(ref cmd);
        outIoasId = cmd.IoasId;
        return rc;
    }

    /// <summary>IOAS_IOVA_RANGES as (start, last) pairs.</summary>
    public static (ulong Start, ulong Last)[] Ranges(this AbiSession s, uint ioasId, out ulong alignment) =>
        [.. s.IovaRanges(ioasId, out alignment).Select(r => (r.Start, r.Last))];
}
