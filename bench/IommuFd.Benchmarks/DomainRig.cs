using System.Buffers.Binary;
using IommuFd.Core;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Benchmarks;

/// <summary>
/// One context on a simulated host with one IOAS (huge pages disabled unless asked) and one bound mock device
/// that is attached nowhere, so HWPT_ALLOC can add domains to the IOAS one at a time and the IOAS
/// starts with none. The simulated user memory maps [<see cref="UserBase"/>, +userBytes): backing
/// pages exist only once written, and nothing here writes, so mapping 16 GiB costs a list entry.
/// </summary>
internal sealed class DomainRig : IDisposable
{
    public const ulong Page = 4096;
    public const ulong HugePage = 2UL << 20;

    /// <summary>Inside the Default mock aperture [16 MiB, 2 GiB): 1 GiB fits exactly.</summary>
    public const ulong IovaBase = 1UL << 30;

    public const ulong UserBase = 0x1000_0000_0000;

    public const IoProt Prot = IoProt.Read | IoProt.Write;

    public DomainRig(ulong userBytes, bool hugePages = false)
    {
        Memory = new SimulatedUserMemory();
        Memory.Map(UserBase, userBytes);
        Host = new IommuHost(Memory, ulong.MaxValue);
        Context = new IommufdContext(Host);
        Check(Context.CreateIoas(out var ioas), "create IOAS");
        Ioas = ioas;
        Check(Context.SetHugePages(ioas, enabled: hugePages), "set huge pages");
        var device = MockIommuDriver.Instance.CreateDevice(MockDeviceFlags.None);
        Check(Context.BindDevice(device, out var deviceId), "bind device");
        DeviceId = deviceId;
    }

    public SimulatedUserMemory Memory { get; }

    public IommuHost Host { get; }

    public IommufdContext Context { get; }

    public IoasId Ioas { get; }

    /// <summary>Bound, never attached: only a handle for HWPT_ALLOC.</summary>
    public DeviceId DeviceId { get; }

    /// <summary>HWPT_ALLOC data: struct iommu_hwpt_selftest { u32 iotlb; u32 pagetable_type; }, type 0xdead.</summary>
    public static IDriverData SelftestData(MockPageTableType type)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(4), (uint)type);
        return new ManagedDriverData(MockIommuDriver.HwptDataSelftest, bytes);
    }

    /// <summary>HWPT_ALLOC of a paging HWPT (its own domain, filled from the IOAS before it returns).</summary>
    public Errno TryAllocHwpt(MockPageTableType type, out HwptId hwpt) =>
        Context.AllocHwpt(DeviceId, Ioas, HwptAllocFlags.None, SelftestData(type), out hwpt);

    public HwptId AllocHwpt(MockPageTableType type)
    {
        Check(TryAllocHwpt(type, out var hwpt), $"HWPT_ALLOC {type}");
        return hwpt;
    }

    /// <summary>MOCK_DOMAIN: a new mock device attached to the IOAS, creating and filling an automatic (Default) HWPT.</summary>
    public Errno TryCreateMockDevice(out SelftestDevice selftest, out HwptId hwpt) =>
        Context.CreateMockDevice(Ioas, MockDeviceFlags.None, out selftest, out hwpt);

    public void Destroy(ObjectId id) => Check(Context.Destroy(id), $"destroy {id}");

    /// <summary>The mock domain behind an HWPT, for leaf and table counts.</summary>
    public MockDomain DomainOf(HwptId hwpt)
    {
        using var paging = Context.Objects.Hold<HwptPaging>(hwpt);
        Check(paging.Status, $"hold {hwpt}");
        return (MockDomain)paging.Value.Domain;
    }

    public void Map(ulong iova, ulong userAddress, ulong length)
    {
        var at = iova;
        var rc = Context.Map(Ioas, userAddress, length, Prot, IovaPlacement.Fixed, ref at);
        if (rc != Errno.Ok) // formatted only on failure: this runs in timed loops
            Check(rc, $"map 0x{iova:x}+0x{length:x}");
    }

    /// <summary>Maps [iova, +length) to user memory from <paramref name="userAddress"/> as areas of <paramref name="areaBytes"/>.</summary>
    public void MapChunks(ulong iova, ulong userAddress, ulong length, ulong areaBytes)
    {
        for (var done = 0UL; done < length; done += areaBytes)
            Map(iova + done, userAddress + done, Math.Min(areaBytes, length - done));
    }

    public void Unmap(ulong iova, ulong length)
    {
        var rc = Context.Unmap(Ioas, iova, length, out var unmapped);
        if (rc != Errno.Ok)
            Check(rc, $"unmap 0x{iova:x}+0x{length:x}");
        if (unmapped != length)
            throw new InvalidOperationException($"unmap 0x{iova:x}: {unmapped} bytes unmapped, {length} expected");
    }

    public void Dispose() => Context.Dispose();

    public static void Check(Errno rc, string what)
    {
        if (rc != Errno.Ok)
            throw new InvalidOperationException($"{what} failed: {rc}");
    }
}
