using System.Globalization;

namespace IommuFd.Core.Memory;

/// <summary>Reads /proc/self/maps to tell whether a range is mapped with the wanted protection.</summary>
internal static class ProcessMaps
{
    public static bool Covers(IovaRange want, bool writable)
    {
        var cursor = want.Start;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            // "start-end perms offset dev inode path": lines come sorted by address.
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
}
