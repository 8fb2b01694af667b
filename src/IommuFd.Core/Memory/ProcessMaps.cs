using System.Globalization;

namespace IommuFd.Core.Memory;

/// <summary>
/// Reads /proc/self/maps: whether a range is mapped with the wanted protection, and which other
/// addresses reach the same page of a shared file (a memfd mapped twice, once by the program and
/// once by the engine for MAP_FILE, is one set of pages the kernel would count once).
/// </summary>
internal static class ProcessMaps
{
    public const string Self = "/proc/self/maps";

    /// <summary>The maps file of process <paramref name="pid"/> (0: this process).</summary>
    public static string PathOf(int pid) => pid == 0 ? Self : $"/proc/{pid}/maps";

    /// <summary>How many times this thread had the kernel print a maps file: pinning should not (tests count it).</summary>
    [ThreadStatic]
    private static long t_textReads;

    internal static long TextReadsOnThisThread => t_textReads;

    /// <summary>
    /// Whether every byte of <paramref name="want"/> in process <paramref name="pid"/> (0: this
    /// one) is mapped (writable when asked); false when the process is gone. Asks the kernel one
    /// mapping at a time where it can, reads the text where it cannot.
    /// </summary>
    public static bool Covers(int pid, IovaRange want, bool writable) =>
        VmaQuery.Covers(pid, want, writable) ?? CoversByText(PathOf(pid), want, writable);

    /// <summary>The text fallback of <see cref="Covers(int, IovaRange, bool)"/>, for kernels older than 6.11.</summary>
    internal static bool CoversByText(string mapsPath, IovaRange want, bool writable)
    {
        var cursor = want.Start;
        foreach (var line in ReadLines(mapsPath))
        {
            // Pinning calls this on every MAP: parse only the address range and permissions.
            var dash = line.IndexOf('-');
            var space = line.IndexOf(' ');
            if (dash <= 0 || space <= dash)
                continue;
            var start = ulong.Parse(line.AsSpan(0, dash), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            var end = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture);
            if (end <= cursor)
                continue;
            if (start > cursor)
                return false;
            var perms = line.AsSpan(space + 1, 4);
            if (perms[0] != 'r' || (writable && perms[1] != 'w'))
                return false;
            if (end - 1 >= want.Last)
                return true;
            cursor = end;
        }
        return false;
    }

    /// <summary>
    /// Every page-aligned address, <paramref name="address"/>'s own page first, that reaches the
    /// same memory: for a shared mapping of a file, each shared mapping of the same file offset;
    /// otherwise the page alone (private and anonymous memory has no other name in one process).
    /// </summary>
    public static List<ulong> Aliases(string mapsPath, ulong address)
    {
        var page = CpuPage.AlignDown(address);
        var aliases = new List<ulong> { page };
        var entries = new List<MapsLine>();
        MapsLine? own = null;
        foreach (var line in ReadLines(mapsPath))
        {
            if (!MapsLine.TryParse(line, out var entry) || !entry.SharedFile)
                continue;
            entries.Add(entry);
            if (entry.Start <= page && page < entry.End)
                own = entry;
        }
        if (own is not { } mine)
            return aliases;
        var fileOffset = mine.FileOffset(page);
        foreach (var other in entries)
        {
            if (other.Start == mine.Start || other.Device != mine.Device || other.Inode != mine.Inode)
                continue;
            if (fileOffset >= other.Offset && fileOffset - other.Offset < other.End - other.Start)
                aliases.Add(other.Start + (fileOffset - other.Offset));
        }
        return aliases;
    }

    /// <summary>True when both addresses reach the same page of memory.</summary>
    public static bool SamePage(string mapsPath, ulong a, ulong b) =>
        CpuPage.AlignDown(a) == CpuPage.AlignDown(b) || Aliases(mapsPath, a).Contains(CpuPage.AlignDown(b));

    /// <summary>
    /// Where this process reaches the shared file pages another process maps at
    /// <paramref name="range"/>: (their address, ours, length) for each piece one of our own
    /// shared mappings covers. Private memory has no such alias.
    /// </summary>
    public static List<(ulong Theirs, ulong Ours, ulong Length)> LocalAliases(string theirMaps, IovaRange range)
    {
        var found = new List<(ulong, ulong, ulong)>();
        var ours = ReadLines(Self).Select(l => MapsLine.TryParse(l, out var e) ? e : default).Where(e => e.SharedFile).ToList();
        foreach (var line in ReadLines(theirMaps))
        {
            if (!MapsLine.TryParse(line, out var theirs) || !theirs.SharedFile || theirs.End <= range.Start || theirs.Start > range.Last)
                continue;
            var start = Math.Max(theirs.Start, range.Start);
            var end = Math.Min(theirs.End - 1, range.Last) + 1;
            var offset = theirs.FileOffset(start);
            foreach (var mine in ours)
            {
                if (mine.Device != theirs.Device || mine.Inode != theirs.Inode)
                    continue;
                if (offset >= mine.Offset && offset - mine.Offset + (end - start) <= mine.End - mine.Start)
                {
                    found.Add((start, mine.Start + (offset - mine.Offset), end - start));
                    break;
                }
            }
        }
        return found;
    }

    /// <summary>The lines of a maps file; none when the process has gone.</summary>
    private static IEnumerable<string> ReadLines(string path)
    {
        t_textReads++;
        // Our own maps always exist: read lazily, as Covers usually stops early.
        if (path == Self)
            return File.ReadLines(path);
        string[] lines;
        try
        {
            lines = File.ReadAllLines(path);
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
        return lines;
    }

    /// <summary>One line, "start-end perms offset major:minor inode path".</summary>
    private readonly record struct MapsLine(ulong Start, ulong End, string Perms, ulong Offset, string Device, ulong Inode)
    {
        /// <summary>A shared mapping of a real file (memfd and shmem included): other mappings may alias it.</summary>
        public bool SharedFile => Perms[3] == 's' && Inode != 0;

        public ulong FileOffset(ulong address) => Offset + (address - Start);

        public static bool TryParse(string line, out MapsLine entry)
        {
            entry = default;
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 5)
                return false;
            var dash = fields[0].IndexOf('-');
            if (dash <= 0 || fields[1].Length < 4)
                return false;
            var span = fields[0].AsSpan();
            if (!ulong.TryParse(span[..dash], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
                || !ulong.TryParse(span[(dash + 1)..], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end)
                || !ulong.TryParse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var offset)
                || !ulong.TryParse(fields[4], NumberStyles.None, CultureInfo.InvariantCulture, out var inode))
                return false;
            entry = new MapsLine(start, end, fields[1], offset, fields[3], inode);
            return true;
        }
    }
}
