using System.Globalization;
using System.Numerics;

namespace IommuFd.Core.Machines;

/// <summary>Page sizes as people write them: "4K", "2M", "1G", or a plain byte count ("4096", "0x1000").</summary>
public static class PageSizeText
{
    public static bool TryParse(string text, out ulong bytes)
    {
        bytes = 0;
        if (text.Length == 0)
            return false;
        var shift = char.ToUpperInvariant(text[^1]) switch
        {
            'K' => 10,
            'M' => 20,
            'G' => 30,
            _ => 0,
        };
        var digits = shift == 0 ? text : text[..^1];
        if (!TryParseNumber(digits, out var value) || value == 0 || value > (ulong.MaxValue >> shift))
            return false;
        bytes = value << shift;
        return true;
    }

    /// <summary>Decimal or 0x-prefixed hexadecimal.</summary>
    public static bool TryParseNumber(string text, out ulong value) =>
        text.StartsWith("0x", StringComparison.OrdinalIgnoreCase)
            ? ulong.TryParse(text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value)
            : ulong.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value);

    public static string Format(ulong bytes) =>
        bytes switch
        {
            _ when bytes >= 1UL << 30 && bytes % (1UL << 30) == 0 => $"{bytes >> 30}G",
            _ when bytes >= 1UL << 20 && bytes % (1UL << 20) == 0 => $"{bytes >> 20}M",
            _ when bytes >= 1UL << 10 && bytes % (1UL << 10) == 0 => $"{bytes >> 10}K",
            _ => bytes.ToString(CultureInfo.InvariantCulture),
        };

    /// <summary>Every size in a bitmap, smallest first.</summary>
    public static IEnumerable<ulong> Sizes(ulong bitmap)
    {
        while (bitmap != 0)
        {
            var low = bitmap & (0 - bitmap);
            yield return low;
            bitmap &= bitmap - 1;
        }
    }

    public static string FormatList(ulong bitmap) => string.Join(", ", Sizes(bitmap).Select(Format));

    public static bool IsPowerOfTwo(ulong bytes) => BitOperations.IsPow2(bytes);
}
