using System.Diagnostics;
using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;

namespace IommuFd.Benchmarks;

/// <summary>What <see cref="IoPageTableScaling"/> measures: table sizes and time spent per figure and size.</summary>
public sealed record ScalingOptions(IReadOnlyList<int> Sizes, TimeSpan BudgetPerFigure)
{
    public static ScalingOptions Default { get; } =
        new([1_000, 10_000, 100_000, 1_000_000], TimeSpan.FromMilliseconds(150));

    /// <summary>Operations timed together (MAP, UNMAP, automatic MAP); one sample is their mean.</summary>
    public int Batch { get; init; } = 32;

    /// <summary>Look-ups timed together.</summary>
    public int LookupBatch { get; init; } = 256;

    /// <summary>The size the largest one is compared with (10^4 in the issue).</summary>
    public int ReferenceSize { get; init; } = 10_000;
}

/// <summary>The figures for one table size. Times are nanoseconds per operation (median of batch means).</summary>
public sealed record ScalingPoint(
    int N,
    double MapNs,
    double UnmapNs,
    double LookupNs,
    double AutoMapNs,
    double RetainedBytesPerArea,
    double AllocatedBytesPerMap,
    double AllocatedBytesPerUnmap,
    double AllocatedBytesPerAutoMap,
    double MapMeanNs,
    double UnmapMeanNs,
    double LookupMeanNs,
    double AutoMapMeanNs,
    double AutoMapColdHoleNs,
    TimeSpan BuildTime);

/// <summary>One row of the table: a figure at every size, its scaling ratio and the verdict.</summary>
public sealed record ScalingRow(string Figure, IReadOnlyList<double> Values, double Ratio, string Target, bool Passed);

public sealed record ScalingReport(IReadOnlyList<ScalingPoint> Points, IReadOnlyList<ScalingRow> Rows, int LargeSize, int ReferenceSize, TimeSpan Elapsed)
{
    public bool AllPassed => Rows.All(r => r.Passed);
}

/// <summary>
/// The IoPageTable scaling figures without BenchmarkDotNet: plain Stopwatch loops, a few seconds in
/// all, printed as a markdown table with PASS/FAIL per target. Every table holds n one-page areas
/// at every other 4 KiB page (see <see cref="ScalingTable"/>); each timed operation is undone,
/// untimed, so the table stays at n areas (n + one batch at most).
/// </summary>
public static class IoPageTableScaling
{
    /// <summary>Cost per operation at the largest size may be at most this multiple of the reference size's.</summary>
    public const double MaxRatio = 2.0;

    public const double MaxBytesPerArea = 256;

    public static ScalingReport RunTable(TextWriter output) => RunTable(output, ScalingOptions.Default);

    public static ScalingReport RunTable(TextWriter output, ScalingOptions options)
    {
        var report = Measure(options, output);
        WriteMarkdown(output, report);
        return report;
    }

    public static ScalingReport Measure(ScalingOptions options, TextWriter? progress = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Sizes.Count == 0 || options.Sizes.Any(n => n < 100))
            throw new ArgumentException("sizes must be at least 100", nameof(options));
        var total = Stopwatch.StartNew();
        FlushCaches(); // allocates the flush buffer before any memory baseline

        // Let tiered compilation settle on small tables before anything is recorded.
        Warmup(options);

        var points = new List<ScalingPoint>();
        foreach (var n in options.Sizes.Order())
        {
            progress?.WriteLine($"<!-- measuring n = {n:N0} -->");
            points.Add(MeasureSize(n, options));
        }
        var largest = points[^1].N;
        var reference = points.Any(p => p.N == options.ReferenceSize) ? options.ReferenceSize : points[0].N;
        var rows = BuildRows(points, largest, reference);
        return new ScalingReport(points, rows, largest, reference, total.Elapsed);
    }

    private static void Warmup(ScalingOptions options)
    {
        var warm = new ScalingTable(1_000);
        warm.Build();
        var iovas = RandomIovas(warm, 1 << 12);
        var budget = TimeSpan.FromMilliseconds(60);
        for (var round = 0; round < 3; round++)
        {
            int holeCursor = 0, areaCursor = 0, lookupCursor = 0;
            Sample(budget, 10, () => MapBatch(warm, options.Batch, ref holeCursor));
            Sample(budget, 10, () => UnmapBatch(warm, options.Batch, ref areaCursor));
            Sample(budget, 10, () => AutoMapBatch(warm, options.Batch));
            Sample(budget, 10, () => LookupBatch(warm, iovas, options.LookupBatch, ref lookupCursor));
            // Tier-1 code is compiled in the background after a quiet period.
            Thread.Sleep(150);
        }
        warm.AssertSize();
    }

    private static ScalingPoint MeasureSize(int n, ScalingOptions options)
    {
        var table = new ScalingTable(n);

        // Retained bytes: everything reachable after building, less what was reachable before.
        FullCollect();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var build = Stopwatch.StartNew();
        table.Build();
        build.Stop();
        FullCollect();
        var after = GC.GetTotalMemory(forceFullCollection: true);
        table.AssertSize();

        var iovas = RandomIovas(table, 1 << 20);
        int holeCursor = 0, areaCursor = 0, lookupCursor = 0;
        var map = Sample(options.BudgetPerFigure, 20, () => MapBatch(table, options.Batch, ref holeCursor));
        var unmap = Sample(options.BudgetPerFigure, 20, () => UnmapBatch(table, options.Batch, ref areaCursor));
        var lookup = Sample(options.BudgetPerFigure, 20, () => LookupBatch(table, iovas, options.LookupBatch, ref lookupCursor));
        var auto = Sample(options.BudgetPerFigure, 20, () => AutoMapBatch(table, options.Batch));
        var autoCold = Sample(options.BudgetPerFigure, 20, () => AutoMapRandomHoleBatch(table, options.Batch, ref areaCursor));
        var (mapBytes, unmapBytes, autoBytes) = MeasureAllocations(table, options.Batch, ref holeCursor, ref areaCursor);
        table.AssertSize();
        GC.KeepAlive(table);

        return new ScalingPoint(
            n,
            map.Median / options.Batch,
            unmap.Median / options.Batch,
            lookup.Median / options.LookupBatch,
            auto.Median / options.Batch,
            (double)(after - before) / n,
            mapBytes,
            unmapBytes,
            autoBytes,
            map.Mean / options.Batch,
            unmap.Mean / options.Batch,
            lookup.Mean / options.LookupBatch,
            auto.Mean / options.Batch,
            autoCold.Median / options.Batch,
            build.Elapsed);
    }

    /// <summary>Managed bytes allocated per MAP, UNMAP and automatic MAP (retained and garbage), in steady state.</summary>
    private static (double Map, double Unmap, double Auto) MeasureAllocations(ScalingTable t, int batch, ref int holeCursor, ref int areaCursor)
    {
        const int rounds = 8;
        long map = 0, unmap = 0, auto = 0;
        Span<ulong> got = stackalloc ulong[batch];
        for (var r = 0; r < rounds; r++)
        {
            var a0 = GC.GetAllocatedBytesForCurrentThread();
            for (var j = 0; j < batch; j++)
                t.MapFixed(t.Holes[(holeCursor + j) % t.Holes.Length]);
            var a1 = GC.GetAllocatedBytesForCurrentThread();
            for (var j = 0; j < batch; j++)
                t.Unmap(t.Holes[(holeCursor + j) % t.Holes.Length]);
            var a2 = GC.GetAllocatedBytesForCurrentThread();
            for (var j = 0; j < batch; j++)
                got[j] = t.MapAutomatic();
            var a3 = GC.GetAllocatedBytesForCurrentThread();
            foreach (var iova in got)
                t.Unmap(iova, ScalingTable.AutoLength);
            map += a1 - a0;
            unmap += a2 - a1;
            auto += a3 - a2;
            holeCursor = (holeCursor + batch) % t.Holes.Length;
        }
        double ops = rounds * batch;
        return (map / ops, unmap / ops, auto / ops);
    }

    private static void FullCollect()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
    }

    // ---- timed batches: each returns the Stopwatch ticks of its timed part only ----

    /// <summary>Maps a batch into holes between areas (timed), then unmaps them again (untimed).</summary>
    private static long MapBatch(ScalingTable t, int batch, ref int cursor)
    {
        var holes = t.Holes;
        var first = cursor;
        var t0 = Stopwatch.GetTimestamp();
        for (var j = 0; j < batch; j++)
            t.MapFixed(holes[(first + j) % holes.Length]);
        var t1 = Stopwatch.GetTimestamp();
        for (var j = 0; j < batch; j++)
            t.Unmap(holes[(first + j) % holes.Length]);
        cursor = (first + batch) % holes.Length;
        return t1 - t0;
    }

    /// <summary>
    /// Unmaps a batch of random existing areas (timed), then maps them again (untimed). Unmapping
    /// what the untimed part just mapped would find the tree paths in cache and flatter UNMAP.
    /// </summary>
    private static long UnmapBatch(ScalingTable t, int batch, ref int cursor)
    {
        var areas = t.Areas;
        var first = cursor;
        var t0 = Stopwatch.GetTimestamp();
        for (var j = 0; j < batch; j++)
            t.Unmap(areas[(first + j) % areas.Length]);
        var t1 = Stopwatch.GetTimestamp();
        for (var j = 0; j < batch; j++)
            t.MapFixed(areas[(first + j) % areas.Length]);
        cursor = (first + batch) % areas.Length;
        return t1 - t0;
    }

    /// <summary>Allocates 8 KiB of IOVA a batch of times (timed; every 4 KiB hole is too small), then unmaps.</summary>
    private static long AutoMapBatch(ScalingTable t, int batch)
    {
        Span<ulong> got = stackalloc ulong[batch];
        var t0 = Stopwatch.GetTimestamp();
        for (var j = 0; j < batch; j++)
            got[j] = t.MapAutomatic();
        var t1 = Stopwatch.GetTimestamp();
        var hole = ScalingTable.AreaIova(t.N);
        foreach (var iova in got)
        {
            if (iova < hole - ScalingTable.Page || iova >= ScalingTable.FenceStart)
                throw new InvalidOperationException($"automatic IOVA 0x{iova:x} is not in the only large hole");
            t.Unmap(iova, ScalingTable.AutoLength);
        }
        return t1 - t0;
    }

    /// <summary>
    /// Informational: automatic MAP when the fitting holes lie at random places and the caches were
    /// flushed first. The main automatic row always finds its hole on the tree's right spine, which
    /// stays in cache; this one pays the same DRAM misses as a fixed MAP at a random IOVA.
    /// </summary>
    private static long AutoMapRandomHoleBatch(ScalingTable t, int batch, ref int cursor)
    {
        var areas = t.Areas;
        var first = cursor;
        // Removing area i joins its page with the holes either side: a 12 KiB hole, 8 KiB aligned.
        for (var j = 0; j < batch; j++)
            t.Unmap(areas[(first + j) % areas.Length]);
        FlushCaches();
        Span<ulong> got = stackalloc ulong[batch];
        var t0 = Stopwatch.GetTimestamp();
        for (var j = 0; j < batch; j++)
            got[j] = t.MapAutomatic();
        var t1 = Stopwatch.GetTimestamp();
        var tail = ScalingTable.AreaIova(t.N);
        foreach (var iova in got)
        {
            if (iova >= tail)
                throw new InvalidOperationException($"automatic IOVA 0x{iova:x} missed the opened holes");
            t.Unmap(iova, ScalingTable.AutoLength);
        }
        for (var j = 0; j < batch; j++)
            t.MapFixed(areas[(first + j) % areas.Length]);
        cursor = (first + batch) % areas.Length;
        return t1 - t0;
    }

    /// <summary>Twice the last-level cache of common servers; allocated once, before any measurement.</summary>
    private static readonly byte[] FlushBuffer = new byte[64 << 20];

    private static void FlushCaches()
    {
        var sum = 0;
        var buffer = FlushBuffer;
        for (var i = 0; i < buffer.Length; i += 64)
        {
            buffer[i]++;
            sum += buffer[i];
        }
        _sink += (ulong)sum;
    }

    private static ulong _sink;

    /// <summary>Translates a batch of random mapped IOVAs (pre-drawn, read sequentially).</summary>
    private static long LookupBatch(ScalingTable t, ulong[] iovas, int batch, ref int cursor)
    {
        if (cursor + batch > iovas.Length)
            cursor = 0;
        var table = t.Table;
        var sum = 0UL;
        var misses = 0;
        var t0 = Stopwatch.GetTimestamp();
        for (var j = 0; j < batch; j++)
        {
            if (table.Translate(iovas[cursor + j], out _) is { } user)
                sum += user;
            else
                misses++;
        }
        var t1 = Stopwatch.GetTimestamp();
        cursor += batch;
        if (misses != 0)
            throw new InvalidOperationException($"{misses} look-ups of mapped IOVAs failed");
        _sink += sum;
        return t1 - t0;
    }

    internal static ulong[] RandomIovas(ScalingTable t, int count)
    {
        var state = 0x9E3779B97F4A7C15UL;
        var iovas = new ulong[count];
        for (var i = 0; i < iovas.Length; i++)
            iovas[i] = t.RandomMappedIova(ref state);
        return iovas;
    }

    private readonly record struct Samples(double Median, double Mean);

    /// <summary>Runs <paramref name="batch"/> until the budget is spent; median and mean of its timings, in ns.</summary>
    private static Samples Sample(TimeSpan budget, int minSamples, Func<long> batch)
    {
        var ticks = new List<long>();
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < budget || ticks.Count < minSamples)
            ticks.Add(batch());
        ticks.Sort();
        var toNs = 1e9 / Stopwatch.Frequency;
        var mid = ticks.Count / 2;
        var median = ticks.Count % 2 == 1 ? ticks[mid] : (ticks[mid - 1] + ticks[mid]) / 2.0;
        return new Samples(median * toNs, ticks.Average() * toNs);
    }

    // ---- report ----

    private static List<ScalingRow> BuildRows(List<ScalingPoint> points, int largest, int reference)
    {
        var rows = new List<ScalingRow>();
        var big = points.First(p => p.N == largest);
        var refPoint = points.First(p => p.N == reference);

        void Timing(string figure, Func<ScalingPoint, double> value)
        {
            var ratio = value(big) / value(refPoint);
            rows.Add(new ScalingRow(figure, [.. points.Select(value)], ratio, $"≤ {MaxRatio:0.#}×", ratio <= MaxRatio));
        }

        Timing("MAP, fixed IOVA, 4 KiB", p => p.MapNs);
        Timing("UNMAP, 4 KiB", p => p.UnmapNs);
        Timing("IOVA look-up (`Translate`), random", p => p.LookupNs);
        Timing("MAP, automatic IOVA, 8 KiB (all holes 4 KiB)", p => p.AutoMapNs);

        var bytes = points.Select(p => p.RetainedBytesPerArea).ToList();
        rows.Add(new ScalingRow("Managed bytes retained per area", bytes, big.RetainedBytesPerArea / refPoint.RetainedBytesPerArea,
            $"≤ {MaxBytesPerArea:0} B", bytes.Max() <= MaxBytesPerArea));
        return rows;
    }

    public static void WriteMarkdown(TextWriter output, ScalingReport report)
    {
        var points = report.Points;
        var sb = new StringBuilder();
        sb.Append("| Figure (ns/op unless stated) |");
        foreach (var p in points)
            sb.Append(CultureInfo.InvariantCulture, $" n = {SizeLabel(p.N)} |");
        sb.Append(CultureInfo.InvariantCulture, $" {SizeLabel(report.LargeSize)} / {SizeLabel(report.ReferenceSize)} | Target | Result |");
        output.WriteLine(sb.ToString());

        sb.Clear().Append("|---|");
        foreach (var _ in points)
            sb.Append("--:|");
        sb.Append("--:|---|---|");
        output.WriteLine(sb.ToString());

        foreach (var row in report.Rows)
        {
            sb.Clear().Append(CultureInfo.InvariantCulture, $"| {row.Figure} |");
            foreach (var v in row.Values)
                sb.Append(CultureInfo.InvariantCulture, $" {Format(v)} |");
            sb.Append(CultureInfo.InvariantCulture, $" {row.Ratio:0.00}× | {row.Target} | {(row.Passed ? "PASS" : "**FAIL**")} |");
            output.WriteLine(sb.ToString());
        }

        // Informational rows: means (GC pauses included), transient allocation and build time.
        void Info(string figure, Func<ScalingPoint, string> value)
        {
            sb.Clear().Append(CultureInfo.InvariantCulture, $"| _{figure}_ |");
            foreach (var p in points)
                sb.Append(CultureInfo.InvariantCulture, $" {value(p)} |");
            sb.Append(" | | |");
            output.WriteLine(sb.ToString());
        }

        Info("mean ns/op incl. GC: map / unmap / look-up / auto", p =>
            string.Create(CultureInfo.InvariantCulture, $"{Format(p.MapMeanNs)} / {Format(p.UnmapMeanNs)} / {Format(p.LookupMeanNs)} / {Format(p.AutoMapMeanNs)}"));
        Info("automatic MAP, 8 KiB holes at random places, caches flushed (ns/op)", p => Format(p.AutoMapColdHoleNs));
        Info("managed bytes allocated per op: map / unmap / auto (retained + garbage)", p =>
            string.Create(CultureInfo.InvariantCulture, $"{p.AllocatedBytesPerMap:0} / {p.AllocatedBytesPerUnmap:0} / {p.AllocatedBytesPerAutoMap:0}"));
        Info("time to build the table", p => string.Create(CultureInfo.InvariantCulture, $"{p.BuildTime.TotalMilliseconds:0} ms"));

        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"_IoPageTable, no domain; n one-page areas at every other 4 KiB page, IOVA from 2^44 up reserved. " +
            $"Times are medians of batch means, each timed operation undone untimed so the table stays at n areas. " +
            $"{RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} CPUs, " +
            $"{(GCSettings.IsServerGC ? "server" : "workstation")} GC; {report.Elapsed.TotalSeconds:0.0} s in all. " +
            $"Overall: {(report.AllPassed ? "PASS" : "FAIL")}._"));
    }

    private static string SizeLabel(int n)
    {
        var exponent = 0;
        var v = n;
        while (v >= 10 && v % 10 == 0)
        {
            v /= 10;
            exponent++;
        }
        return v == 1 && exponent > 0 ? $"10^{exponent}" : n.ToString("N0", CultureInfo.InvariantCulture);
    }

    private static string Format(double v) =>
        v >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.0", CultureInfo.InvariantCulture);
}
