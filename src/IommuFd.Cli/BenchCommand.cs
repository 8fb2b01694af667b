using System.Globalization;
using Spectre.Console;

namespace IommuFd.Cli;

/// <summary>
/// `iommufd-emu bench`: runs the C benchmark (tests/conformance/bench, built into build/native by
/// scripts/build-native.sh) twice — once under the shim for the ioctl round trip, once plain for the
/// start-up cost, which it measures by spawning a tiny program itself — and prints one table.
/// </summary>
internal static class BenchCommand
{
    /// <summary>The round trip we aim for, relative to a kernel ioctl.</summary>
    private const double TargetRatio = 0.25;

    public static int Run(long calls, int starts)
    {
        var error = "";
        var bench = NativeArtifacts.Bench(out error);
        var shim = bench is null ? null : NativeArtifacts.Shim(out error);
        var engine = shim is null ? null : NativeArtifacts.Engine(out error);
        if (bench is null || shim is null || engine is null)
        {
            Console.Error.WriteLine(error);
            return 127;
        }

        AnsiConsole.MarkupLine($"[grey]timing {calls:N0} ioctls per round, 7 rounds each (medians)...[/]");
        var (rc, output) = ChildProcess.Capture([bench, "ioctl", calls.ToString(CultureInfo.InvariantCulture)],
            RunCommand.Environment(shim, engine, trace: null));
        if (rc != 0)
            return Fail("ioctl round trip", rc);
        var ioctl = Parse(output);

        AnsiConsole.MarkupLine("[grey]timing MAP + UNMAP with one mock domain and ACCESS_PAGES of one page...[/]");
        (rc, output) = ChildProcess.Capture([bench, "pin", Math.Max(calls / 50, 100).ToString(CultureInfo.InvariantCulture)],
            RunCommand.Environment(shim, engine, trace: null));
        if (rc != 0)
            return Fail("pin", rc);
        var pin = Parse(output);

        AnsiConsole.MarkupLine($"[grey]starting a small program {starts} times per variant...[/]");
        (rc, output) = ChildProcess.Capture([bench, "startup", starts.ToString(CultureInfo.InvariantCulture), shim, engine],
            new Dictionary<string, string>());
        if (rc != 0)
            return Fail("start-up", rc);
        var startup = Parse(output);

        var emulated = ioctl["emulated_ns"];
        var kernel = ioctl["kernel_ns"];
        var ratio = emulated / kernel;
        var table = new Table().Border(TableBorder.Rounded).Title("iommufd-emu bench")
            .AddColumn("measurement").AddColumn(new TableColumn("time").RightAligned()).AddColumn("note");
        table.AddRow("emulated: DESTROY, unknown id", Ns(emulated), "shim + engine, ENOENT");
        table.AddRow("kernel: same ioctl on /dev/null", Ns(kernel), "via the shim's wrapper, ENOTTY");
        table.AddRow("kernel: raw syscall(SYS_ioctl)", Ns(ioctl["kernel_raw_ns"]), "no wrapper");
        var verdict = ratio <= TargetRatio ? "[green]meets[/]" : "[yellow]misses[/]";
        table.AddRow("ratio emulated / kernel", ratio.ToString("0.00", CultureInfo.InvariantCulture), $"{verdict} the ≤ {TargetRatio.ToString("0.00", CultureInfo.InvariantCulture)} target");
        table.AddEmptyRow();
        var pinKernel = pin["kernel_ns"];
        table.AddRow("kernel: /dev/null ioctl, pin run", Ns(pinKernel), "baseline for the next two");
        table.AddRow("MAP+UNMAP 4 KiB, mock domain", Ns(pin["map_unmap_domain_ns"]), $"{Times(pin["map_unmap_domain_ns"], pinKernel)} baseline; real memory");
        table.AddRow("ACCESS_PAGES+DESTROY, 1 page", Ns(pin["access_pages_ns"]), $"{Times(pin["access_pages_ns"], pinKernel)} baseline");
        table.AddEmptyRow();
        var plain = startup["startup_plain_ns"];
        var idle = startup["startup_shim_noopen_ns"];
        var open = startup["startup_shim_open_ns"];
        table.AddRow("start a tiny program, no shim", Us(plain), "spawn to exit");
        table.AddRow("same, under the shim", Us(idle), $"+{Us(idle - plain)}: the shim alone");
        table.AddRow("same, opening /dev/iommu once", Us(open), $"+{Us(open - idle)}: engine start + open");
        AnsiConsole.Write(table);
        return 0;
    }

    private static int Fail(string what, int rc)
    {
        Console.Error.WriteLine($"iommufd-emu bench: the {what} measurement failed (status {rc})");
        return 1;
    }

    private static Dictionary<string, double> Parse(string output)
    {
        var values = new Dictionary<string, double>();
        foreach (var line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = line.IndexOf('=');
            if (eq > 0 && double.TryParse(line.AsSpan(eq + 1), NumberStyles.Float, CultureInfo.InvariantCulture, out var v))
                values[line[..eq]] = v;
        }
        return values;
    }

    private static string Ns(double ns) => $"{ns.ToString("0.0", CultureInfo.InvariantCulture)} ns";

    private static string Times(double figure, double baseline) =>
        $"{(figure / baseline).ToString("0.0", CultureInfo.InvariantCulture)}×";

    private static string Us(double ns) => $"{(ns / 1000).ToString("0", CultureInfo.InvariantCulture)} µs";
}
