using System.Diagnostics;
using System.Globalization;
using IommuFd.Core;
using IommuFd.Core.Dma;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Faults;
using IommuFd.Core.Machines;
using IommuFd.Core.Objects;

namespace IommuFd.Benchmarks;

/// <summary>What <see cref="DmaCosts"/> measures.</summary>
public sealed record DmaCostOptions(TimeSpan BudgetPerFigure, int Rounds)
{
    // Many short rounds: on a shared machine a short round is often not preempted, and the median finds those.
    public static DmaCostOptions Default { get; } = new(TimeSpan.FromMilliseconds(400), 41);
}

/// <summary>
/// Translation costs, plain Stopwatch loops printed as markdown: IOTLB hit and miss (a full walk
/// of the mock's AMD v1 4 KiB table and an insert that evicts) in ns per lookup; then DMA of
/// 64 KiB blocks through a warm IOTLB (4 KiB leaves, 1 MiB working set in a 512-entry IOTLB, and
/// 2 MiB leaves) against memcpy of the same blocks in the same run, in GiB/s, with the ratio.
/// The memory is one native block, so both sides copy the same way.
/// </summary>
public static class DmaCosts
{
    private const ulong UserBase = 0x4000_0000;
    private const ulong Iova = 0x4000_0000;
    private const int Block = 64 * 1024;
    private const double Target = 0.8;

    public static void RunTable(TextWriter output, DmaCostOptions options)
    {
        output.WriteLine("### Translation (ns per lookup, medians)");
        output.WriteLine();
        output.WriteLine("| lookup | ns |");
        output.WriteLine("|---|---:|");
        var (hit, miss) = MeasureLookups(options);
        output.WriteLine($"| IOTLB hit | {F(hit)} |");
        output.WriteLine($"| IOTLB miss: 4-level walk + insert (evicting) | {F(miss)} |");
        output.WriteLine($"| miss / hit | {F(miss / hit)}× |");
        output.WriteLine();
        output.WriteLine("### DMA of 64 KiB blocks through a warm IOTLB vs memcpy (GiB/s, medians)");
        output.WriteLine();
        output.WriteLine($"| case | memcpy | DMA | ratio | target ≥ {F(Target)} |");
        output.WriteLine("|---|---:|---:|---:|---|");
        foreach (var hugePages in new[] { false, true })
            foreach (var direction in new[] { DmaDirection.Write, DmaDirection.Read })
            {
                var (baseline, dma) = MeasureCopy(options, hugePages, direction);
                var ratio = dma / baseline;
                var leaves = hugePages ? "2 MiB leaves" : "4 KiB leaves";
                output.WriteLine($"| device {direction.ToString().ToLowerInvariant()}s, {leaves} | {F(baseline)} | {F(dma)} | {F(ratio)} | {(ratio >= Target ? "meets" : "misses")} |");
            }
    }

    /// <summary>ns per lookup for a hit (16 warm pages) and a miss (every lookup a new page, 1-entry IOTLB).</summary>
    private static (double Hit, double Miss) MeasureLookups(DmaCostOptions options)
    {
        var domain = new MockDomain(MockPageTableType.AmdV1);
        const int pages = 4096;
        Check(domain.Map(Iova, UserBase, pages * 4096UL, IoProt.Read | IoProt.Write, largestPage: 4096), "map");
        using var memory = new FlatUserMemory(UserBase, 4096);

        var warm = new DmaTranslator(new Iotlb(64), memory);
        for (var i = 0UL; i < 16; i++)
            warm.Translate(domain, Iotlb.NoPasid, Iova + i * 4096, DmaDirection.Read, out _, out _, out _);
        var hit = Median(options, 1 << 16, n =>
        {
            for (var i = 0; i < n; i++)
                warm.Translate(domain, Iotlb.NoPasid, Iova + ((ulong)i & 15) * 4096, DmaDirection.Read, out _, out _, out _);
        });

        var cold = new DmaTranslator(new Iotlb(1), memory);
        var miss = Median(options, 1 << 14, n =>
        {
            for (var i = 0; i < n; i++)
                cold.Translate(domain, Iotlb.NoPasid, Iova + ((ulong)i % pages) * 4096, DmaDirection.Read, out _, out _, out _);
        });
        if (cold.Iotlb.Hits != 0 || warm.Iotlb.Misses != 16)
            throw new InvalidOperationException("the lookups did not hit and miss as intended");
        return (hit, miss);
    }

    /// <summary>GiB/s of memcpy and of DMA for 16 blocks of 64 KiB (1 MiB), both directions of the device.</summary>
    private static (double Memcpy, double Dma) MeasureCopy(DmaCostOptions options, bool hugePages, DmaDirection direction)
    {
        const int blocks = 16;
        const ulong span = (ulong)blocks * Block;
        using var memory = new FlatUserMemory(UserBase, 4UL << 20);
        using var context = new IommufdContext(new IommuHost(memory, ulong.MaxValue));
        var preset = MachinePresets.IntelVtd;
        var machine = new Machine(preset with { Iommus = [preset.Iommus[0] with { IotlbEntries = 512 }] });
        var dma0 = machine.Device("dma0");
        var device = dma0.CreateDevice();
        Check(context.BindDevice(device, out var id), "bind");
        Check(context.CreateIoas(out var ioas), "ioas");
        Check(context.SetHugePages(ioas, hugePages), "huge pages");
        Check(context.AttachDevice(id, ioas, out _), "attach");
        var iova = Iova;
        Check(context.Map(ioas, UserBase, 2UL << 20, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova), "map");
        var port = dma0.Iommu.OpenDma(context, device, new NullModel());
        var local = new byte[span];
        Random.Shared.NextBytes(local);

        var (dma, baseline) = MedianPair(options, blocks, n =>
        {
            for (var i = 0; i < n; i++)
            {
                var offset = (ulong)(i % blocks) * Block;
                var chunk = local.AsSpan((int)offset, Block);
                var result = direction == DmaDirection.Write ? port.Write(Iova + offset, chunk) : port.Read(Iova + offset, chunk);
                if (!result.Completed)
                    throw new InvalidOperationException($"DMA faulted: {result.Fault}");
            }
        }, n =>
        {
            for (var i = 0; i < n; i++)
            {
                var offset = (ulong)(i % blocks) * Block;
                var chunk = local.AsSpan((int)offset, Block);
                var target = memory.Bytes(UserBase + offset, Block);
                if (direction == DmaDirection.Write)
                    chunk.CopyTo(target);
                else
                    target.CopyTo(chunk);
            }
        });
        if (port.Iotlb.Evictions != 0)
            throw new InvalidOperationException("the IOTLB was not warm");
        return (GiBps(baseline), GiBps(dma));
    }

    /// <summary>
    /// Like <see cref="Median"/> for two loops timed in alternation, round after round, so a load
    /// change on the machine hits both alike; returns each one's median ns per operation.
    /// </summary>
    private static (double A, double B) MedianPair(DmaCostOptions options, int batch, Action<int> a, Action<int> b)
    {
        var rounds = options.Rounds;
        var slice = options.BudgetPerFigure / rounds / 2;
        a(batch * 4);
        b(batch * 4);
        var sa = new double[rounds];
        var sb = new double[rounds];
        for (var r = 0; r < rounds; r++)
        {
            sa[r] = Time(slice, batch, a);
            sb[r] = Time(slice, batch, b);
        }
        Array.Sort(sa);
        Array.Sort(sb);
        return (sa[rounds / 2], sb[rounds / 2]);
    }

    private static double Time(TimeSpan slice, int batch, Action<int> run)
    {
        var ops = 0L;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < slice)
        {
            run(batch);
            ops += batch;
        }
        return clock.Elapsed.TotalNanoseconds / ops;
    }

    private static double GiBps(double nsPerBlock) => Block / nsPerBlock * 1e9 / (1UL << 30);

    /// <summary>Median over rounds of ns per operation; each round runs batches of <paramref name="batch"/> for its share of the budget.</summary>
    private static double Median(DmaCostOptions options, int batch, Action<int> run)
    {
        run(batch);
        run(batch * 4);
        var perRound = options.BudgetPerFigure / options.Rounds;
        var samples = new double[options.Rounds];
        for (var r = 0; r < options.Rounds; r++)
            samples[r] = Time(perRound, batch, run);
        Array.Sort(samples);
        return samples[samples.Length / 2];
    }

    private static string F(double value) => value.ToString(value >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture);

    private static void Check(Errno rc, string what)
    {
        if (rc != Errno.Ok)
            throw new InvalidOperationException($"{what}: {rc}");
    }

    private sealed class NullModel : IDmaDeviceModel
    {
        public string Name => "bench";

        public bool CanRequestPages => false;

        public void OnDmaError(DmaFault fault)
        {
        }

        public void OnPageResponse(DmaFault fault, PageResponseCode code)
        {
        }
    }
}
