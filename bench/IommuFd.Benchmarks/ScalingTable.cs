using IommuFd.Core;
using IommuFd.Core.AddressSpace;
using IommuFd.Core.Memory;
using IommuFd.Core.Pages;

namespace IommuFd.Benchmarks;

/// <summary>
/// An <see cref="IoPageTable"/> holding <see cref="N"/> one-page areas at every other 4 KiB page
/// (area i at IOVA (2i+1)·4 KiB), so a 4 KiB hole sits before each of them. Everything from
/// <see cref="FenceStart"/> up is reserved: the only hole of 8 KiB or more is the one between the
/// last area and the fence, so first-fit allocation must skip all <see cref="N"/> small holes
/// (the case the augmented span tree exists for). No domain is attached, so nothing is pinned
/// and the simulated user memory needs no mapping.
/// </summary>
internal sealed class ScalingTable
{
    public const ulong Page = 4096;

    /// <summary>Size asked for by automatic allocation: twice the holes left between areas.</summary>
    public const ulong AutoLength = 2 * Page;

    public const ulong FenceStart = 1UL << 44;

    /// <summary>User addresses of the fixed-IOVA areas (8 KiB aligned, never touched).</summary>
    public const ulong UserBase = 0x1000_0000_0000;

    /// <summary>User address given to automatic MAP: 8 KiB aligned so the IOVA alignment is 8 KiB.</summary>
    public const ulong AutoUserAddress = 0x2000_0000_0000;

    public const IoProt Prot = IoProt.Read | IoProt.Write | IoProt.Cache;

    public ScalingTable(int n, int seed = 12345)
    {
        if (n < 2)
            throw new ArgumentOutOfRangeException(nameof(n));
        N = n;
        Host = new IommuHost(new SimulatedUserMemory(), ulong.MaxValue);
        Table = new IoPageTable();
        Check(Table.Reserve(FenceStart, ulong.MaxValue, owner: null), "reserve fence");
        // Holes strictly between two areas: hole k (1 ≤ k < n) is page 2k. Shuffled once.
        Holes = new ulong[n - 1];
        for (var k = 1; k < n; k++)
            Holes[k - 1] = HoleIova(k);
        var random = new Random(seed);
        random.Shuffle(Holes);
        Areas = new ulong[n];
        for (var i = 0; i < n; i++)
            Areas[i] = AreaIova(i);
        random.Shuffle(Areas);
    }

    public int N { get; }

    public IommuHost Host { get; }

    public IoPageTable Table { get; }

    /// <summary>Fixed IOVAs of the holes between areas, in random order.</summary>
    public ulong[] Holes { get; }

    /// <summary>IOVAs of the <see cref="N"/> areas, in random order.</summary>
    public ulong[] Areas { get; }

    public static ulong AreaIova(long i) => (2 * (ulong)i + 1) * Page;

    public static ulong HoleIova(long k) => 2 * (ulong)k * Page;

    /// <summary>Maps the <see cref="N"/> areas.</summary>
    public void Build()
    {
        for (var i = 0; i < N; i++)
            MapFixed(AreaIova(i));
    }

    public void MapFixed(ulong iova)
    {
        var at = iova;
        Check(Table.MapUser(Host, AccountMode.User, UserBase + iova, Page, Prot, allocateIova: false, ref at), "map");
    }

    public ulong MapAutomatic()
    {
        var iova = 0UL;
        Check(Table.MapUser(Host, AccountMode.User, AutoUserAddress, AutoLength, Prot, allocateIova: true, ref iova), "auto map");
        return iova;
    }

    public void Unmap(ulong iova, ulong length = Page)
    {
        Check(Table.Unmap(iova, length, out var unmapped), "unmap");
        if (unmapped != length)
            throw new InvalidOperationException($"unmap 0x{iova:x}: {unmapped} bytes unmapped, {length} expected");
    }

    /// <summary>A random IOVA inside a random area (xorshift, so the loop stays allocation-free).</summary>
    public ulong RandomMappedIova(ref ulong state)
    {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        var area = (long)((state >> 12) % (ulong)N);
        return AreaIova(area) + (state & (Page - 1));
    }

    /// <summary>Throws unless the table is back to exactly <see cref="N"/> areas.</summary>
    public void AssertSize()
    {
        if (Table.AreaCount != N)
            throw new InvalidOperationException($"table holds {Table.AreaCount} areas, expected {N}");
    }

    private static void Check(Errno rc, string what)
    {
        if (rc != Errno.Ok)
            throw new InvalidOperationException($"{what} failed: {rc}");
    }
}
