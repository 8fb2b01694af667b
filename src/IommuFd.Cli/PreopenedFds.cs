namespace IommuFd.Cli;

/// <summary>One `--fd N=PATH`: the program finds PATH open at fd N when it starts.</summary>
internal readonly record struct PreopenedFd(int Fd, string Path);

/// <summary>
/// `run --fd N=PATH`, as a management layer hands a VMM its fds (`-object iommufd,fd=N`). The
/// shim opens them before the program's main (native/preload/preopen.c) from one variable, so
/// the paths it emulates (/dev/iommu, /dev/vfio/devices/vfioN) work as well as real files.
/// </summary>
internal static class PreopenedFds
{
    public const string EnvironmentVariable = "IOMMUFD_EMU_FDS";

    /// <summary>
    /// Parses and checks every value; null with <paramref name="problem"/> set on the first bad
    /// one. N is a decimal fd number of 3 or more (0-2 are the program's stdio, which `run`
    /// passes through), given once; PATH is not empty and holds no ',' (the variable's
    /// separator). A relative PATH is made absolute here, where the user typed it.
    /// </summary>
    public static IReadOnlyList<PreopenedFd>? Parse(IEnumerable<string> values, out string? problem)
    {
        var fds = new List<PreopenedFd>();
        foreach (var value in values)
        {
            problem = Check(value, out var fd);
            if (problem is null && fds.Exists(f => f.Fd == fd.Fd))
                problem = $"fd {fd.Fd} is given twice";
            if (problem is not null)
            {
                problem = $"--fd {value}: {problem}";
                return null;
            }
            fds.Add(fd);
        }
        problem = null;
        return fds;
    }

    /// <summary>The variable's value: `N=PATH` entries joined by ','.</summary>
    public static string ToEnvironmentValue(IEnumerable<PreopenedFd> fds) =>
        string.Join(',', fds.Select(f => $"{f.Fd}={f.Path}"));

    private static string? Check(string value, out PreopenedFd fd)
    {
        fd = default;
        var equals = value.IndexOf('=', StringComparison.Ordinal);
        if (equals < 0)
            return "expected N=PATH";
        var number = value[..equals];
        var path = value[(equals + 1)..];
        if (number.Length == 0 || !number.All(char.IsAsciiDigit) || !int.TryParse(number, out var n))
            return "N must be a non-negative fd number";
        if (n <= 2)
            return "fds 0, 1 and 2 are the program's stdin, stdout and stderr";
        if (path.Length == 0)
            return "PATH is empty";
        if (path.Contains('\0', StringComparison.Ordinal))
            return "PATH cannot contain a NUL character";
        var full = Path.GetFullPath(path);
        if (full.Contains(',', StringComparison.Ordinal))
            return $"the path {full} contains ',', which the list of fds cannot carry";
        fd = new PreopenedFd(n, full);
        return null;
    }
}
