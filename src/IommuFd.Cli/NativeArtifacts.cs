namespace IommuFd.Cli;

/// <summary>
/// Finds the native pieces `run` and `bench` need: an environment override first, then the
/// CLI's own directory and its native/ folder (where the iommufd-emu tool package carries them),
/// then build/native/ in any parent of it (the repository layout, where
/// scripts/build-native.sh puts them), then the same under the current directory's parents.
/// </summary>
internal static class NativeArtifacts
{
    public const string ShimFile = "libiommufd_preload.so";
    public const string EngineFile = "libiommufd_engine.so";
    public const string BenchFile = "iommufd-bench";

    public static string? Shim(out string error) => Locate(ShimFile, "IOMMUFD_EMU_SHIM", out error);

    public static string? Engine(out string error) => Locate(EngineFile, "IOMMUFD_EMU_ENGINE", out error);

    public static string? Bench(out string error) => Locate(BenchFile, "IOMMUFD_EMU_BENCH", out error);

    private static string? Locate(string file, string variable, out string error)
    {
        error = "";
        var overridden = Environment.GetEnvironmentVariable(variable);
        if (!string.IsNullOrEmpty(overridden))
        {
            if (File.Exists(overridden))
                return Path.GetFullPath(overridden);
            error = $"iommufd-emu: {variable}={overridden} does not exist";
            return null;
        }
        var looked = new List<string>();
        foreach (var dir in Candidates())
        {
            var path = Path.Combine(dir, file);
            if (File.Exists(path))
                return Path.GetFullPath(path);
            looked.Add(dir);
        }
        error = $"iommufd-emu: {file} is not built (looked in {string.Join(", ", looked.Distinct())}).\n" +
                $"Build it with scripts/build-native.sh, or point {variable} at it.";
        return null;
    }

    private static IEnumerable<string> Candidates()
    {
        var own = AppContext.BaseDirectory;
        yield return own;
        yield return Path.Combine(own, "native");
        foreach (var start in new[] { own, Directory.GetCurrentDirectory() })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                yield return Path.Combine(dir.FullName, "build", "native");
    }
}
