using IommuFd.Core.Machines;

namespace IommuFd.Cli;

/// <summary>
/// `iommufd-emu run [--trace FILE] [--machine NAME|FILE] [--fd N=PATH]... -- CMD [ARGS...]`: CMD
/// sees /dev/iommu and the machine's /dev/vfio/devices/vfioN emulated, and finds each PATH
/// open at fd N when it starts.
/// </summary>
internal static class RunCommand
{
    private const string Usage = "iommufd-emu run [--trace FILE] [--machine NAME|FILE] [--fd N=PATH]... -- CMD [ARGS...]";

    public static int Run(FileInfo? trace, string? machine, IReadOnlyList<string> fdValues, string[] command)
    {
        if (command.Length == 0)
        {
            Console.Error.WriteLine($"iommufd-emu run: no program given (usage: {Usage})");
            return 2;
        }
        var machineValue = MachineValue(machine, out var problem);
        if (problem is not null)
        {
            Console.Error.WriteLine($"iommufd-emu run: bad --machine: {problem}");
            return 2;
        }
        var fds = PreopenedFds.Parse(fdValues, out problem);
        if (fds is null)
        {
            Console.Error.WriteLine($"iommufd-emu run: bad {problem}");
            return 2;
        }
        var shim = NativeArtifacts.Shim(out var error);
        var engine = shim is null ? null : NativeArtifacts.Engine(out error);
        if (shim is null || engine is null)
        {
            Console.Error.WriteLine(error);
            return 127;
        }
        var env = Environment(shim, engine, trace);
        if (machineValue is not null)
            env[MachineDescription.EnvironmentVariable] = machineValue;
        AddPreopenedFds(env, fds);
        return ChildProcess.Run(command, env);
    }

    /// <summary>
    /// Checks the machine here, where the user can read the error, and returns what the engine is
    /// told: the preset name, or the file's absolute path (the program may change directory).
    /// Null without --machine: the engine's default (selftest) applies.
    /// </summary>
    public static string? MachineValue(string? machine, out string? problem)
    {
        problem = null;
        if (machine is null)
            return null;
        try
        {
            var description = MachineDescription.Load(machine);
            return MachinePresets.TryGet(machine, out _) ? description.Name : Path.GetFullPath(machine);
        }
        catch (MachineDescriptionException e)
        {
            problem = e.Message;
            return null;
        }
    }

    /// <summary>The shim opens the fds before the program's main; without any, the variable is not set.</summary>
    public static void AddPreopenedFds(Dictionary<string, string> env, IReadOnlyList<PreopenedFd> fds)
    {
        if (fds.Count > 0)
            env[PreopenedFds.EnvironmentVariable] = PreopenedFds.ToEnvironmentValue(fds);
    }

    /// <summary>What the child needs: the shim first in LD_PRELOAD, the engine, and the trace file if any.</summary>
    public static Dictionary<string, string> Environment(string shim, string engine, FileInfo? trace)
    {
        var preload = System.Environment.GetEnvironmentVariable("LD_PRELOAD");
        var env = new Dictionary<string, string>
        {
            ["LD_PRELOAD"] = string.IsNullOrEmpty(preload) ? shim : $"{shim}:{preload}",
            ["IOMMUFD_EMU_ENGINE"] = engine,
        };
        if (trace is not null)
            env["IOMMUFD_EMU_TRACE"] = trace.FullName;
        return env;
    }
}
