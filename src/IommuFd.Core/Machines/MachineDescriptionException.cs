namespace IommuFd.Core.Machines;

/// <summary>
/// A machine description that cannot be used: where (file and 1-based line, when known) and what.
/// The message reads "file:line: what", like a compiler's.
/// </summary>
public sealed class MachineDescriptionException(string? source, int line, string problem)
    : Exception(Format(source, line, problem))
{
    /// <summary>The file (or preset name) the description came from, or null when built in code.</summary>
    public string? File { get; } = source;

    /// <summary>1-based line of the offending element; 0 when unknown.</summary>
    public int Line { get; } = line;

    public string Problem { get; } = problem;

    private static string Format(string? source, int line, string problem) =>
        (source, line) switch
        {
            (null, _) => problem,
            (_, 0) => $"{source}: {problem}",
            _ => $"{source}:{line}: {problem}",
        };
}
