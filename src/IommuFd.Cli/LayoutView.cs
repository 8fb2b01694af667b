using IommuFd.Core;
using IommuFd.Core.AddressSpace;
using Spectre.Console;

namespace IommuFd.Cli;

/// <summary>Renders an I/O address space for people: its mappings as a table, then its IOVA rules.</summary>
internal static class LayoutView
{
    public static void Render(string title, IoPageTable table)
    {
        var mappings = table.Mappings();
        var grid = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title))
            .AddColumn("IOVA start").AddColumn("IOVA last").AddColumn(new TableColumn("length").RightAligned())
            .AddColumn("user address").AddColumn("prot").AddColumn(new TableColumn("pinned pages").RightAligned());
        foreach (var m in mappings)
            grid.AddRow(Hex(m.Iova.Start), Hex(m.Iova.Last), Size(m.Iova.Length), Hex(m.UserAddress), Prot(m.Prot), m.PinnedPagesOfSource.ToString());
        if (mappings.Count == 0)
            grid.AddRow("[grey](no mappings)[/]", "", "", "", "", "");
        AnsiConsole.Write(grid);

        AnsiConsole.MarkupLine($"  usable IOVA:  {Markup.Escape(Ranges(table.UsableRanges()))}");
        var allowed = table.AllowedRanges();
        AnsiConsole.MarkupLine($"  allowed IOVA: {Markup.Escape(allowed.Count == 0 ? "(any)" : Ranges(allowed))}");
        AnsiConsole.MarkupLine($"  IOVA alignment: {table.IovaAlignment}, domains attached: {table.DomainCount}");
        AnsiConsole.WriteLine();
    }

    public static string Hex(ulong value) => $"0x{value:x}";

    public static string Size(ulong bytes) => bytes switch
    {
        >= 1UL << 30 when bytes % (1UL << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1UL << 20 when bytes % (1UL << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1UL << 10 when bytes % (1UL << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} B",
    };

    public static string Prot(IoProt prot) =>
        ((prot & IoProt.Read) != 0 ? "R" : "-") + ((prot & IoProt.Write) != 0 ? "W" : "-");

    private static string Ranges(IReadOnlyList<IovaRange> ranges) =>
        string.Join(", ", ranges.Select(r => $"[{Hex(r.Start)}, {Hex(r.Last)}]"));
}
