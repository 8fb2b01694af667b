using BenchmarkDotNet.Attributes;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Objects;

namespace IommuFd.Benchmarks;

/// <summary>What the IOAS holds before a domain is filled from it (1 GiB in every case).</summary>
public enum FillContents
{
    /// <summary>512 areas of 2 MiB, user memory 4 KiB off the IOVA: 262,144 leaves of 4 KiB.</summary>
    Areas2MiB_4KLeaves,

    /// <summary>262,144 areas of one 4 KiB page each.</summary>
    AreaPerPage,

    /// <summary>512 areas of 2 MiB, 2 MiB aligned: huge pages are disabled, yet the domain gets 512 leaves of 2 MiB.</summary>
    Areas2MiB_Aligned,
}

/// <summary>
/// Filling a domain from an IOAS already holding 1 GiB (see <see cref="DomainCosts"/>): AmdV1 by
/// HWPT_ALLOC, Default by attaching a new mock device (automatic HWPT); and tearing it down again.
/// With <see cref="ExtraDomain"/> another domain already holds the pins, so only the page table is written.
/// The setup fills and destroys one domain first: the first pin of an area allocates bookkeeping that stays.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(1, 1)]
[WarmupCount(1)]
[IterationCount(5)]
public class DomainFill
{
    private const ulong Size = 1UL << 30;
    private DomainRig _rig = null!;
    private ObjectId _created;

    [ParamsAllValues]
    public FillContents Contents;

    [Params(MockPageTableType.AmdV1, MockPageTableType.Default)]
    public MockPageTableType Type;

    [ParamsAllValues]
    public bool ExtraDomain;

    [GlobalSetup]
    public void Setup()
    {
        DomainCosts.WarmUpCode(32);
        _rig = new DomainRig(Size + DomainRig.HugePage);
        var (area, shift) = Contents switch
        {
            FillContents.Areas2MiB_4KLeaves => (DomainRig.HugePage, DomainRig.Page),
            FillContents.AreaPerPage => (DomainRig.Page, 0UL),
            _ => (DomainRig.HugePage, 0UL),
        };
        _rig.MapChunks(DomainRig.IovaBase, DomainRig.UserBase + shift, Size, area);
        _rig.Destroy(_rig.AllocHwpt(MockPageTableType.AmdV1));
        if (ExtraDomain)
            _ = _rig.AllocHwpt(MockPageTableType.AmdV1); // stays until the context is disposed
    }

    [GlobalCleanup]
    public void Cleanup() => _rig.Dispose();

    /// <summary>HWPT_ALLOC (AmdV1) or MOCK_DOMAIN (Default): allocate the domain and map every area into it.</summary>
    [Benchmark]
    public ObjectId Fill() => _created = Create();

    [IterationCleanup(Target = nameof(Fill))]
    public void DestroyFilled() => _rig.Destroy(_created);

    [IterationSetup(Target = nameof(Teardown))]
    public void CreateForTeardown() => _created = Create();

    /// <summary>DESTROY of the HWPT (or the mock device, taking its automatic HWPT along): unmap every area, unpin.</summary>
    [Benchmark]
    public void Teardown() => _rig.Destroy(_created);

    private ObjectId Create()
    {
        if (Type == MockPageTableType.Default)
        {
            DomainRig.Check(_rig.TryCreateMockDevice(out var selftest, out _), "mock device");
            return selftest.Id;
        }
        return _rig.AllocHwpt(Type);
    }
}

/// <summary>
/// MAP then UNMAP of a batch of areas at fixed IOVAs with 0, 1, 2 or 4 domains (manual HWPTs) on
/// the IOAS; the mean per MAP+UNMAP pair. The --domains table times MAP and UNMAP separately.
/// </summary>
[MemoryDiagnoser]
public class DomainMapUnmap
{
    private const int Batch = 32;
    private DomainCosts.MapUnmapLoop _loop = null!;

    public enum Shape
    {
        /// <summary>A 4 KiB area.</summary>
        Area4K,

        /// <summary>A 2 MiB area that domains map with one 2 MiB leaf.</summary>
        Area2M,

        /// <summary>A 2 MiB area whose user memory is 4 KiB off: 512 leaves of 4 KiB per domain.</summary>
        Area2M_4KLeaves,
    }

    [Params(0, 1, 2, 4)]
    public int Domains;

    [ParamsAllValues]
    public Shape Area;

    [Params(MockPageTableType.AmdV1, MockPageTableType.Default)]
    public MockPageTableType Type;

    [GlobalSetup]
    public void Setup()
    {
        DomainCosts.WarmUpCode(Batch);
        var (_, length, shift) = DomainCosts.MapUnmapShapes[(int)Area];
        _loop = new DomainCosts.MapUnmapLoop(Type, Domains, length, shift, Batch);
    }

    [GlobalCleanup]
    public void Cleanup() => _loop.Dispose();

    [Benchmark(OperationsPerInvoke = Batch)]
    public void MapUnmap()
    {
        _loop.MapAll();
        _loop.UnmapAll();
    }
}
