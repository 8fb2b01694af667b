using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using IommuFd.Core.AddressSpace;

namespace IommuFd.Benchmarks;

/// <summary>IOVA look-up at random mapped IOVAs in a table of N one-page areas.</summary>
[MemoryDiagnoser]
public class IoPageTableLookup
{
    private const int Ops = 1024;
    private ScalingTable _t = null!;
    private ulong[] _iovas = null!;
    private int _cursor;

    [Params(1_000, 10_000, 100_000, 1_000_000)]
    public int N;

    [GlobalSetup]
    public void Setup()
    {
        _t = new ScalingTable(N);
        _t.Build();
        _iovas = IoPageTableScaling.RandomIovas(_t, 1 << 20);
    }

    [Benchmark(OperationsPerInvoke = Ops)]
    public ulong Translate()
    {
        if (_cursor + Ops > _iovas.Length)
            _cursor = 0;
        var table = _t.Table;
        var sum = 0UL;
        for (var j = 0; j < Ops; j++)
            sum += table.Translate(_iovas[_cursor + j], out _) ?? 0;
        _cursor += Ops;
        return sum;
    }
}

/// <summary>
/// MAP (fixed and automatic IOVA) and UNMAP, one operation per invocation. Each iteration's setup
/// undoes the previous iteration (untimed), so the table holds N ± 256 areas. MAP goes into random
/// holes between areas, UNMAP removes random existing areas (the built ones, whose tree paths are
/// not in cache), automatic MAP asks for 8 KiB where every hole between areas is 4 KiB.
/// </summary>
[MemoryDiagnoser]
[InvocationCount(Invocations)]
public class IoPageTableMutation
{
    private const int Invocations = 256;
    private ScalingTable _t = null!;
    private readonly List<ulong> _mapped = new(Invocations);
    private readonly List<ulong> _autoMapped = new(Invocations);
    private readonly List<ulong> _unmapped = new(Invocations);
    private int _holeCursor;
    private int _areaCursor;

    [Params(1_000, 10_000, 100_000, 1_000_000)]
    public int N;

    [GlobalSetup]
    public void Setup()
    {
        _t = new ScalingTable(N);
        _t.Build();
    }

    /// <summary>Puts the table back to its N built areas.</summary>
    [IterationSetup]
    public void Restore()
    {
        foreach (var iova in _mapped)
            _t.Unmap(iova);
        _mapped.Clear();
        foreach (var iova in _autoMapped)
            _t.Unmap(iova, ScalingTable.AutoLength);
        _autoMapped.Clear();
        foreach (var iova in _unmapped)
            _t.MapFixed(iova);
        _unmapped.Clear();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        Restore();
        _t.AssertSize();
    }

    /// <summary>Maps one page into a random hole between two areas.</summary>
    [Benchmark]
    public void MapFixed()
    {
        var hole = _t.Holes[_holeCursor];
        _holeCursor = (_holeCursor + 1) % _t.Holes.Length;
        _t.MapFixed(hole);
        _mapped.Add(hole);
    }

    /// <summary>Unmaps one random existing area.</summary>
    [Benchmark]
    public void Unmap()
    {
        var area = _t.Areas[_areaCursor];
        _areaCursor = (_areaCursor + 1) % _t.Areas.Length;
        _t.Unmap(area);
        _unmapped.Add(area);
    }

    /// <summary>Maps 8 KiB at an engine-chosen IOVA: every hole between the N areas is too small.</summary>
    [Benchmark]
    public ulong MapAutomatic()
    {
        var iova = _t.MapAutomatic();
        _autoMapped.Add(iova);
        return iova;
    }
}

/// <summary>
/// Building a table of N areas: the Alloc/area column is the managed allocation per MAP (an upper
/// bound on what an area retains; the --table mode measures the retained bytes).
/// </summary>
[MemoryDiagnoser]
[Config(typeof(PerAreaConfig))]
[InvocationCount(1, 1)]
[WarmupCount(1)]
[IterationCount(3)]
public class IoPageTableBuild
{
    [Params(1_000, 10_000, 100_000, 1_000_000)]
    public int N;

    [Benchmark]
    public IoPageTable BuildTable()
    {
        var t = new ScalingTable(N);
        t.Build();
        return t.Table;
    }

    private sealed class PerAreaConfig : ManualConfig
    {
        public PerAreaConfig() => AddColumn(new AllocatedPerAreaColumn());
    }

    private sealed class AllocatedPerAreaColumn : IColumn
    {
        public string Id => nameof(AllocatedPerAreaColumn);
        public string ColumnName => "Alloc/area";
        public bool AlwaysShow => true;
        public ColumnCategory Category => ColumnCategory.Metric;
        public int PriorityInCategory => 10;
        public bool IsNumeric => true;
        public UnitType UnitType => UnitType.Size;
        public string Legend => "Managed bytes allocated per area while building the table (incl. setup and garbage)";

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase) =>
            GetValue(summary, benchmarkCase, SummaryStyle.Default);

        public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style)
        {
            var report = summary[benchmarkCase];
            if (report is null || benchmarkCase.Parameters["N"] is not int n || n == 0)
                return "-";
            var bytes = report.GcStats.GetBytesAllocatedPerOperation(benchmarkCase);
            return bytes is { } b ? $"{(double)b / n:0.0} B" : "-";
        }

        public bool IsAvailable(Summary summary) => true;

        public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;
    }
}
