namespace IommuFd.Cli;

/// <summary>`iommufd-emu run [--trace FILE] -- CMD [ARGS...]`: CMD sees /dev/iommu emulated.</summary>
internal static class RunCommand
{
    public static int Run(FileInfo? trace, string[] command)
    {
        if (command.Length == 0)
        {
            Console.Error.WriteLine("iommufd-emu run: no program given (usage: iommufd-emu run [--trace FILE] -- CMD [ARGS...])");
            return 2;
        }
        var shim = NativeArtifacts.Shim(out var error);
        var engine = shim is null ? null : NativeArtifacts.Engine(out error);
        if (shim is null || engine is null)
        {
            Console.Error.WriteLine(error);
            return 127;
        }
        return ChildProcess.Run(command, Environment(shim, engine, trace));
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
