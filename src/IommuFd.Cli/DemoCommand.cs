using System.Text;
using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using Spectre.Console;

namespace IommuFd.Cli;

/// <summary>
/// `iommufd-emu demo`: the managed API on simulated user memory, no set-up needed. Two I/O address
/// spaces get fixed and automatic mappings, a COPY, an UNMAP, a reserved and an allowed range, and
/// each step and the resulting layouts are printed.
/// </summary>
internal static class DemoCommand
{
    private const ulong Buffer = 0x7f00_0000_0000;
    private const ulong BufferSize = 64 * 1024;
    private const ulong Kib = 1024;

    public static int Run()
    {
        var memory = new SimulatedUserMemory();
        memory.Map(Buffer, BufferSize);
        var pattern = Encoding.ASCII.GetBytes("iommufd-emu demo: bytes the device will see. ");
        for (ulong at = 0; at + (ulong)pattern.Length <= BufferSize; at += (ulong)pattern.Length)
            memory.Write(Buffer + at, pattern).ThrowIfError("filling the buffer");

        using var context = new IommufdContext(new IommuHost(memory, ulong.MaxValue));
        AnsiConsole.MarkupLine("[bold]iommufd-emu demo[/]: the engine's managed API on simulated user memory");
        AnsiConsole.MarkupLine($"user buffer: {LayoutView.Size(BufferSize)} at {LayoutView.Hex(Buffer)}, filled with a text pattern");
        AnsiConsole.WriteLine();

        AnsiConsole.MarkupLine("[bold]steps[/]");
        void Step(string what, Errno rc, string outcome) =>
            AnsiConsole.MarkupLine($"  {Markup.Escape(what.PadRight(40))} → " +
                (rc == Errno.Ok ? Markup.Escape(outcome) : $"[yellow]{rc}[/] {Markup.Escape(outcome)}"));

        context.CreateIoas(out var a).ThrowIfError("IOAS_ALLOC");
        Step("IOAS_ALLOC", Errno.Ok, $"{a}");
        context.CreateIoas(out var b).ThrowIfError("IOAS_ALLOC");
        Step("IOAS_ALLOC", Errno.Ok, $"{b}");

        var domain = new DemoDomain();
        Errno rc;
        using (var ioas = context.Objects.Hold<Ioas>(a))
            rc = ioas.Held ? ioas.Value.PageTable.AddDomain(domain) : ioas.Status;
        Step($"attach a software domain to {a}", rc, "MAPs now pin their pages");

        var fixedIova = 0x10_0000UL;
        rc = context.Map(a, Buffer, 16 * Kib, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref fixedIova);
        Step($"MAP {a} 16 KiB RW at fixed 0x100000", rc, $"iova {LayoutView.Hex(fixedIova)}");

        var autoIova = 0UL;
        rc = context.Map(a, Buffer + 16 * Kib, 32 * Kib, IoProt.Read, IovaPlacement.Automatic, ref autoIova);
        Step($"MAP {a} 32 KiB R, automatic IOVA", rc, $"iova {LayoutView.Hex(autoIova)}");

        var clash = 0x10_2000UL;
        rc = context.Map(a, Buffer, 4 * Kib, IoProt.Read, IovaPlacement.Fixed, ref clash);
        Step($"MAP {a} 4 KiB at fixed 0x102000", rc, "taken: refused");

        var scratch = 0x20_0000UL;
        rc = context.Map(a, Buffer + 48 * Kib, 4 * Kib, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref scratch);
        Step($"MAP {a} 4 KiB RW at fixed 0x200000", rc, $"iova {LayoutView.Hex(scratch)}");

        var copyIova = 0UL;
        rc = context.Copy(b, a, fixedIova, 8 * Kib, IoProt.Read | IoProt.Write, IovaPlacement.Automatic, ref copyIova);
        Step($"COPY {a} 0x100000 +8 KiB into {b}", rc, $"iova {LayoutView.Hex(copyIova)}, same pages");

        rc = context.Unmap(a, scratch, 4 * Kib, out var unmapped);
        Step($"UNMAP {a} 0x200000 +4 KiB", rc, $"{LayoutView.Size(unmapped)} unmapped");

        rc = context.AddReserved(b, 0xfee0_0000, 0xfeef_ffff);
        Step($"reserve {b} 0xfee00000-0xfeefffff", rc, "an MSI window: not usable");

        rc = context.AllowIovas(a, [new IovaRange(0x10_0000, 0x3fff_ffff)]);
        Step($"ALLOW_IOVAS {a} 0x100000-0x3fffffff", rc, "automatic IOVAs come from here");

        var allowedIova = 0UL;
        rc = context.Map(a, Buffer + 52 * Kib, 8 * Kib, IoProt.Read, IovaPlacement.Automatic, ref allowedIova);
        Step($"MAP {a} 8 KiB R, automatic IOVA", rc, $"iova {LayoutView.Hex(allowedIova)}");

        AnsiConsole.WriteLine();

        Render(context, a, $"{a}: software domain attached");
        Render(context, b, $"{b}: no domain of its own");
        AnsiConsole.MarkupLine("[grey]pinned pages: of the memory behind a mapping; COPY shares them.[/]");
        ShowDmaRead(context, memory, b, copyIova);
        return 0;
    }

    private static void Render(IommufdContext context, IoasId id, string title)
    {
        using var ioas = context.Objects.Hold<Ioas>(id);
        ioas.Status.ThrowIfError("rendering");
        LayoutView.Render(title, ioas.Value.PageTable);
    }

    /// <summary>Translates an IOVA of the COPY's target and reads user memory there, as a device's DMA would.</summary>
    private static void ShowDmaRead(IommufdContext context, SimulatedUserMemory memory, IoasId id, ulong iova)
    {
        var text = "";
        ulong? user;
        using (var ioas = context.Objects.Hold<Ioas>(id))
        {
            ioas.Status.ThrowIfError("translating");
            user = ioas.Value.PageTable.Translate(iova, out _);
        }
        if (user is { } address)
        {
            Span<byte> bytes = stackalloc byte[20];
            memory.Read(address, bytes).ThrowIfError("reading");
            text = Encoding.ASCII.GetString(bytes);
        }
        AnsiConsole.MarkupLine(user is { } u
            ? $"DMA read via {id} at {LayoutView.Hex(iova)} → user {LayoutView.Hex(u)}: \"{Markup.Escape(text)}...\""
            : $"[red]{id} does not translate {LayoutView.Hex(iova)}[/]");
    }
}
