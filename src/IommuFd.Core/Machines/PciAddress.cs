using System.Globalization;

namespace IommuFd.Core.Machines;

/// <summary>A PCI function address, segment:bus:device.function, as lspci prints it (0000:00:03.0).</summary>
public readonly record struct PciAddress(ushort Segment, byte Bus, byte Device, byte Function)
{
    /// <summary>"SSSS:BB:DD.F" or "BB:DD.F" in hex; device below 32, function below 8.</summary>
    public static bool TryParse(string text, out PciAddress address)
    {
        address = default;
        var parts = text.Split(':');
        if (parts.Length is < 2 or > 3)
            return false;
        ushort segment = 0;
        if (parts.Length == 3 && (parts[0].Length != 4 || !ushort.TryParse(parts[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out segment)))
            return false;
        var bus = parts[^2];
        var devFn = parts[^1].Split('.');
        if (bus.Length != 2 || devFn.Length != 2 || devFn[0].Length != 2 || devFn[1].Length != 1)
            return false;
        if (!byte.TryParse(bus, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var b)
            || !byte.TryParse(devFn[0], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var d)
            || !byte.TryParse(devFn[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var f)
            || d >= 32 || f >= 8)
            return false;
        address = new PciAddress(segment, b, d, f);
        return true;
    }

    public static PciAddress Parse(string text) =>
        TryParse(text, out var address) ? address : throw new FormatException($"'{text}' is not a PCI address (SSSS:BB:DD.F)");

    /// <summary>The requester ID the IOMMU sees: bus, device, function.</summary>
    public ushort RequesterId => (ushort)((Bus << 8) | (Device << 3) | Function);

    public override string ToString() => $"{Segment:x4}:{Bus:x2}:{Device:x2}.{Function:x}";
}
