using System.Globalization;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using IommuFd.Benchmarks;

// --table            plain Stopwatch loops, no BenchmarkDotNet: prints the markdown table (a few seconds).
//   --sizes 1000,10000   table sizes (default 10^3..10^6); --budget-ms 150 time per figure and size;
//   --strict             exit code 1 when a target fails.
// --domains          plain Stopwatch loops: domain fill cost and MAP/UNMAP with 0/1/2/4 domains (about 20 s).
//   --fill-gib 1,16      IOAS sizes to fill from; --repeats 3 fills per figure; --budget-ms 150 per MAP/UNMAP figure;
//   --no-per-page        skip the 1 GiB IOAS made of one area per 4 KiB page.
// --formats         plain Stopwatch loops: page-table format MAP/UNMAP ns per PTE against bare stores (a few seconds).
//   --budget-ms 200      time per figure and round; --rounds 3 rounds per figure.
// --dma            plain Stopwatch loops: IOTLB hit/miss ns per lookup, DMA of 64 KiB blocks vs memcpy (a few seconds).
//   --budget-ms 300      time per figure.
// --vfio-dma       plain Stopwatch loops: the DMA test device's copy (doorbell on BAR0, 64 KiB and 2 MiB) vs memcpy,
//                    and doorbell-to-interrupt latency (a few seconds). --budget-ms 400 per figure; --rounds 21.
// --dirty            plain Stopwatch loops: GET_DIRTY_BITMAP over 1 GiB of 4 KiB pages, 10% dirty (a few seconds).
//   --repeats 15         timed calls per figure.
// --veventq        plain Stopwatch loops: vEVENTQ events/s, TRIGGER_VEVENT to read(), batches of 1 and 64, against the
//                    fault queue's page-request delivery (a few seconds). --budget-ms 300 per figure; --rounds 3.
// --quick            BenchmarkDotNet with a short job (CI smoke runs); other arguments go to BenchmarkSwitcher.
var rest = new List<string>(args);
if (Take(rest, "--table"))
{
    var options = ScalingOptions.Default;
    if (TakeValue(rest, "--sizes") is { } sizes)
        options = options with { Sizes = [.. sizes.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))] };
    if (TakeMilliseconds(rest, "--budget-ms") is { } budget)
        options = options with { BudgetPerFigure = budget };
    var strict = Take(rest, "--strict");
    var report = IoPageTableScaling.RunTable(Console.Out, options);
    return strict && !report.AllPassed ? 1 : 0;
}

if (Take(rest, "--domains"))
{
    var options = DomainCostOptions.Default;
    if (TakeValue(rest, "--fill-gib") is { } gib)
        options = options with { FillGiB = [.. gib.Split(',').Select(s => int.Parse(s, CultureInfo.InvariantCulture))] };
    if (TakeInt(rest, "--repeats") is { } repeats)
        options = options with { Repeats = repeats };
    if (TakeMilliseconds(rest, "--budget-ms") is { } budget)
        options = options with { BudgetPerFigure = budget };
    if (Take(rest, "--no-per-page"))
        options = options with { PerPageAreas = false };
    DomainCosts.RunTable(Console.Out, options);
    return 0;
}

if (Take(rest, "--formats"))
{
    var options = FormatCostOptions.Default;
    if (TakeMilliseconds(rest, "--budget-ms") is { } budget)
        options = options with { BudgetPerFigure = budget };
    if (TakeInt(rest, "--rounds") is { } rounds)
        options = options with { Rounds = rounds };
    FormatCosts.RunTable(Console.Out, options);
    return 0;
}

if (Take(rest, "--dma"))
{
    var options = DmaCostOptions.Default;
    if (TakeMilliseconds(rest, "--budget-ms") is { } budget)
        options = options with { BudgetPerFigure = budget };
    DmaCosts.RunTable(Console.Out, options);
    return 0;
}

if (Take(rest, "--vfio-dma"))
{
    var options = VfioDmaCostOptions.Default;
    if (TakeMilliseconds(rest, "--budget-ms") is { } budget)
        options = options with { BudgetPerFigure = budget };
    if (TakeInt(rest, "--rounds") is { } rounds)
        options = options with { Rounds = rounds };
    VfioDmaCosts.RunTable(Console.Out, options);
    return 0;
}

if (Take(rest, "--dirty"))
{
    var repeats = TakeInt(rest, "--repeats") ?? 15;
    DirtyBitmapCosts.RunTable(Console.Out, repeats);
    return 0;
}

if (Take(rest, "--veventq"))
{
    var options = VeventqCostOptions.Default;
    if (TakeMilliseconds(rest, "--budget-ms") is { } budget)
        options = options with { BudgetPerFigure = budget };
    if (TakeInt(rest, "--rounds") is { } rounds)
        options = options with { Rounds = rounds };
    VeventqCosts.RunTable(Console.Out, options);
    return 0;
}

IConfig config = DefaultConfig.Instance;
if (Take(rest, "--quick"))
{
    config = DefaultConfig.Instance
        .AddJob(Job.Default.WithId("Quick").WithLaunchCount(1).WithWarmupCount(1).WithIterationCount(3))
        .WithOptions(ConfigOptions.DisableLogFile);
}
BenchmarkSwitcher.FromAssembly(typeof(IoPageTableScaling).Assembly).Run([.. rest], config);
return 0;

static bool Take(List<string> args, string flag) => args.Remove(flag);

static int? TakeInt(List<string> args, string flag) =>
    TakeValue(args, flag) is { } text ? int.Parse(text, CultureInfo.InvariantCulture) : null;

static TimeSpan? TakeMilliseconds(List<string> args, string flag) =>
    TakeValue(args, flag) is { } text ? TimeSpan.FromMilliseconds(double.Parse(text, CultureInfo.InvariantCulture)) : null;

static string? TakeValue(List<string> args, string flag)
{
    var i = args.IndexOf(flag);
    if (i < 0 || i + 1 >= args.Count)
        return null;
    var value = args[i + 1];
    args.RemoveRange(i, 2);
    return value;
}
