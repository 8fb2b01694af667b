using IommuFd.Core.Machines;

namespace IommuFd.Cli;

/// <summary>`iommufd-emu machines`: the preset machines `run --machine` accepts by name, one line each.</summary>
internal static class MachinesCommand
{
    public static int Run()
    {
        var width = MachinePresets.All.Max(m => m.Name.Length);
        foreach (var machine in MachinePresets.All)
            Console.WriteLine($"{machine.Name.PadRight(width)}  {machine.Summary}");
        Console.WriteLine();
        Console.WriteLine("Or give a JSON file: iommufd-emu run --machine my-machine.json -- PROGRAM (schema: docs/machines.md)");
        return 0;
    }
}
