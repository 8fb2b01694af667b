using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Benchmarks;

/// <summary>What <see cref="FormatCosts"/> measures.</summary>
public sealed record FormatCostOptions(TimeSpan BudgetPerFigure, int Rounds)
{
    public static FormatCostOptions Default { get; } = new(TimeSpan.FromMilliseconds(200), 3);
}

/// <summary>
/// One format and call shape: map / unmap ns per PTE written, and the same number of bare 8-byte stores
/// (a loop writing a PTE-like value / zero into a table-sized array) timed in the same run.
/// </summary>
public sealed record FormatCostRow(string Format, string Case, int PtesPerCall, double MapNs, double UnmapNs, double StoreNs, double ClearNs);

/// <summary>
/// Page-table format costs, without BenchmarkDotNet: plain Stopwatch loops, printed as markdown.
/// Each call shape maps a batch of calls at consecutive IOVAs of one table, then unmaps them; anchor pages
/// keep the upper tables alive so a call's cost is its own level (a 512 × 4 KiB call still allocates and frees
/// its last-level table, which the unmap empties).
/// </summary>
public static class FormatCosts
{
    private const ulong K4 = 1UL << 12, M2 = 1UL << 21, G1 = 1UL << 30;

    // 512 GiB + 1 GiB: inside one top-level entry, so the level-2 table is shared by every call and the anchors.
    private const ulong Base = (512UL << 30) + G1;

    private static readonly (string Label, ulong Length, ulong Largest, int Calls)[] Shapes =
    [
        ("512 × 4 KiB in one call", M2, K4, 16),
        ("one 2 MiB leaf", M2, M2, 256),
        ("one 1 GiB leaf", G1, G1, 64),
    ];

    public static IReadOnlyList<FormatCostRow> RunTable(TextWriter output, FormatCostOptions options)
    {
        var total = Stopwatch.StartNew();
        // Warm-up: every path more than the tiering threshold, then let tier-1 compile.
        Measure(options with { BudgetPerFigure = TimeSpan.FromMilliseconds(20), Rounds = 1 });
        Thread.Sleep(200);
        var rows = Measure(options);
        WriteMarkdown(output, rows, total.Elapsed);
        return rows;
    }

    public static List<FormatCostRow> Measure(FormatCostOptions options)
    {
        var rows = new List<FormatCostRow>();
        var runner = new Runner(options, rows);
        runner.Run("vtd-ss-4level", VtdSecondStage.FourLevel, VtdSecondStage.PageSizes);
        runner.Run("x86-fs-4level", X86FirstStage.FourLevel, X86FirstStage.PageSizes);
        runner.Run("amdv1-mode4", AmdV1Formats.Host4Level, AmdV1Formats.Host4Level.LeafSizes);
        runner.Run("arm-s1-4k", ArmLpae.Stage1_4K, ArmLpae.PageSizes(12));
        runner.Run("arm-s2-4k-dbm", ArmLpae.Create(2, 12, 48, hardwareDirty: true), ArmLpae.PageSizes(12));
        return rows;
    }

    private sealed class Runner(FormatCostOptions options, List<FormatCostRow> rows)
    {
        private readonly ulong[] _entries = new ulong[4096];

        public void Run<TCodec>(string name, PageTableFormat<TCodec> format, ulong pageSizes) where TCodec : struct, IPteCodec
        {
            foreach (var (label, length, largest, calls) in Shapes)
            {
                var table = new RadixPageTable<TCodec>(format, pageSizes);
                // Anchors: the page before the calls, and one page after them in the same 1 GiB region (the same
                // 512 GiB region for 1 GiB calls), so only tables the calls fill themselves come and go.
                var after = length == G1 ? Base + (ulong)calls * G1 : Base + G1 - K4;
                Check(table.Map(Base - K4, Base - K4, K4, IoProt.Read), "anchor");
                Check(table.Map(after, after, K4, IoProt.Read), "anchor");
                var ptes = (int)(length / largest);
                var map = new List<double>();
                var unmap = new List<double>();
                var store = new List<double>();
                var clear = new List<double>();
                for (var round = 0; round < options.Rounds; round++)
                {
                    var deadline = Stopwatch.GetTimestamp() + (long)(options.BudgetPerFigure.TotalSeconds * Stopwatch.Frequency);
                    do
                    {
                        var t0 = Stopwatch.GetTimestamp();
                        for (var i = 0; i < calls; i++)
                        {
                            var iova = Base + (ulong)i * length;
                            Check(table.Map(iova, iova, length, IoProt.Read | IoProt.Write | IoProt.Cache, largest), "map");
                        }
                        var t1 = Stopwatch.GetTimestamp();
                        for (var i = 0; i < calls; i++)
                            table.Unmap(Base + (ulong)i * length, length);
                        var t2 = Stopwatch.GetTimestamp();
                        Stores(_entries, calls * ptes);
                        var t3 = Stopwatch.GetTimestamp();
                        Clears(_entries, calls * ptes);
                        var t4 = Stopwatch.GetTimestamp();
                        var perPte = 1e9 / Stopwatch.Frequency / ((double)calls * ptes);
                        map.Add((t1 - t0) * perPte);
                        unmap.Add((t2 - t1) * perPte);
                        store.Add((t3 - t2) * perPte);
                        clear.Add((t4 - t3) * perPte);
                    }
                    while (Stopwatch.GetTimestamp() < deadline);
                }
                if (table.MappedBytes != 2 * K4 || table.TableCount > 2 * format.MaxLevels)
                    throw new InvalidOperationException($"{name}: table not back to its anchors");
                rows.Add(new FormatCostRow(name, label, ptes, Median(map), Median(unmap), Median(store), Median(clear)));
            }
        }

        /// <summary>The baseline for a map: <paramref name="count"/> 8-byte stores of distinct PTE-like values into a 4 KiB-entry array.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void Stores(ulong[] entries, int count)
        {
            var value = 0x6000_0000_0000_0001UL;
            for (var i = 0; i < count; i++, value += 1UL << 12)
                entries[i & 4095] = value;
        }

        /// <summary>The baseline for an unmap: the same number of zero stores.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void Clears(ulong[] entries, int count)
        {
            for (var i = 0; i < count; i++)
                entries[i & 4095] = 0;
        }
    }

    private static void WriteMarkdown(TextWriter output, IReadOnlyList<FormatCostRow> rows, TimeSpan elapsed)
    {
        output.WriteLine("### Page-table formats: MAP / UNMAP ns per PTE against bare 8-byte stores (same run)");
        output.WriteLine();
        output.WriteLine("| Format | Call | PTEs/call | store ns/PTE | MAP ns/PTE | MAP ÷ store | zero-store ns/PTE | UNMAP ns/PTE | UNMAP ÷ store |");
        output.WriteLine("|---|---|--:|--:|--:|--:|--:|--:|--:|");
        foreach (var r in rows)
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Format} | {r.Case} | {r.PtesPerCall} | {F(r.StoreNs)} | {F(r.MapNs)} | {r.MapNs / r.StoreNs:0.0}× | {F(r.ClearNs)} | {F(r.UnmapNs)} | {r.UnmapNs / r.ClearNs:0.0}× |"));
        output.WriteLine();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"_Medians of batch means (each batch: the calls at consecutive IOVAs of one table, then their unmaps, then the same number of " +
            $"stores into a 32 KiB array, in one loop). Target: ≤ 1.5 ns/PTE for the batched 512 × 4 KiB call. " +
            $"{RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}, {Environment.ProcessorCount} CPUs; {elapsed.TotalSeconds:0.0} s._"));
    }

    private static string F(double v) => v >= 100 ? v.ToString("N0", CultureInfo.InvariantCulture) : v.ToString("0.00", CultureInfo.InvariantCulture);

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }

    private static void Check(Errno rc, string what)
    {
        if (rc != Errno.Ok)
            throw new InvalidOperationException($"{what} failed: {rc}");
    }
}
