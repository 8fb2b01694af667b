using System.Globalization;
using System.Text.Json;

namespace IommuFd.Core.Machines;

/// <summary>
/// Turns a <see cref="JsonTree"/> into a <see cref="MachineDescription"/>: shapes, types, unknown
/// and missing members. It records the line of every path it visits so validation can point at it.
/// </summary>
internal sealed class MachineJsonReader(byte[] utf8, string? source)
{
    private readonly Dictionary<string, int> _lines = [];
    private readonly string _source = source ?? "<json>";

    /// <summary>The line of <paramref name="path"/>, or of its nearest recorded parent.</summary>
    public int LineOf(string path)
    {
        while (true)
        {
            if (_lines.TryGetValue(path, out var line))
                return line;
            var cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
            if (cut <= 0)
                return _lines.GetValueOrDefault("", 0);
            path = path[..cut];
        }
    }

    public MachineDescription Machine(JsonTree tree)
    {
        var root = Members(tree, "", ["name", "summary", "iommus", "devices"]);
        return new MachineDescription
        {
            Name = String(Required(root, "", "name"), "name"),
            Summary = root.TryGetValue("summary", out var summary) ? String(summary, "summary") : "",
            Iommus = [.. Items(Required(root, "", "iommus"), "iommus").Select((item, i) => Iommu(item, $"iommus[{i}]"))],
            Devices = root.TryGetValue("devices", out var devices)
                ? [.. Items(devices, "devices").Select((item, i) => Device(item, $"devices[{i}]"))]
                : [],
        };
    }

    private IommuDescription Iommu(JsonTree tree, string at)
    {
        var members = Members(tree, at, ["id", "model", "addressWidth", "pageSizes", "iotlbEntries", "dirtyTracking", "nesting", "pasidWidth", "pri"]);
        var id = String(Required(members, at, "id"), $"{at}.id");
        var modelNode = Required(members, at, "model");
        var modelName = String(modelNode, $"{at}.model");
        if (!IommuModels.TryParse(modelName, out var model))
            throw Problem(modelNode, $"{at}.model: unknown model '{modelName}' (known: {IommuModels.AllNames})");
        var defaults = IommuDescription.ForModel(id, model);
        return defaults with
        {
            AddressWidth = members.TryGetValue("addressWidth", out var w) ? Int(w, $"{at}.addressWidth") : defaults.AddressWidth,
            PageSizes = members.TryGetValue("pageSizes", out var p) ? PageSizes(p, $"{at}.pageSizes") : defaults.PageSizes,
            IotlbEntries = members.TryGetValue("iotlbEntries", out var t) ? Int(t, $"{at}.iotlbEntries") : defaults.IotlbEntries,
            DirtyTracking = members.TryGetValue("dirtyTracking", out var d) ? Bool(d, $"{at}.dirtyTracking") : defaults.DirtyTracking,
            Nesting = members.TryGetValue("nesting", out var n) ? Bool(n, $"{at}.nesting") : defaults.Nesting,
            PasidWidth = members.TryGetValue("pasidWidth", out var s) ? Int(s, $"{at}.pasidWidth") : defaults.PasidWidth,
            Pri = members.TryGetValue("pri", out var r) ? Bool(r, $"{at}.pri") : defaults.Pri,
        };
    }

    private DeviceDescription Device(JsonTree tree, string at)
    {
        var members = Members(tree, at, ["name", "pci", "group", "iommu", "model", "reservedRegions"]);
        var pciNode = Required(members, at, "pci");
        var pciText = String(pciNode, $"{at}.pci");
        if (!PciAddress.TryParse(pciText, out var pci))
            throw Problem(pciNode, $"{at}.pci: '{pciText}' is not a PCI address (SSSS:BB:DD.F, e.g. 0000:00:03.0)");
        return new DeviceDescription
        {
            Name = String(Required(members, at, "name"), $"{at}.name"),
            Pci = pci,
            Group = String(Required(members, at, "group"), $"{at}.group"),
            Iommu = String(Required(members, at, "iommu"), $"{at}.iommu"),
            Model = members.TryGetValue("model", out var m) ? String(m, $"{at}.model") : DeviceModels.DmaTest,
            ReservedRegions = members.TryGetValue("reservedRegions", out var regions)
                ? [.. Items(regions, $"{at}.reservedRegions").Select((item, i) => Region(item, $"{at}.reservedRegions[{i}]"))]
                : [],
        };
    }

    private IovaRange Region(JsonTree tree, string at)
    {
        var members = Members(tree, at, ["start", "last"]);
        return new IovaRange(Address(Required(members, at, "start"), $"{at}.start"), Address(Required(members, at, "last"), $"{at}.last"));
    }

    private ulong PageSizes(JsonTree tree, string at)
    {
        var bitmap = 0UL;
        var items = Items(tree, at);
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            var text = item is JsonTree.Value { Type: JsonTokenType.String or JsonTokenType.Number } v ? v.Text : null;
            Visit(item, $"{at}[{i}]");
            if (text is null || !PageSizeText.TryParse(text, out var size))
                throw Problem(item, $"{at}[{i}]: expected a page size such as \"4K\", \"2M\" or 4096, found {Describe(item)}");
            if (!PageSizeText.IsPowerOfTwo(size))
                throw Problem(item, $"{at}[{i}]: {text} is not a power of two");
            if ((bitmap & size) != 0)
                throw Problem(item, $"{at}[{i}]: {text} is listed twice");
            bitmap |= size;
        }
        return bitmap;
    }

    private Dictionary<string, JsonTree> Members(JsonTree tree, string at, string[] known)
    {
        Visit(tree, at);
        if (tree is not JsonTree.Object obj)
            throw Problem(tree, $"{Where(at)}expected an object, found {tree.KindName}");
        var members = new Dictionary<string, JsonTree>();
        foreach (var (name, value) in obj.Members)
        {
            var path = at.Length == 0 ? name : $"{at}.{name}";
            if (!known.Contains(name))
                throw Problem(value, $"{path}: unknown member (expected one of: {string.Join(", ", known)})");
            if (!members.TryAdd(name, value))
                throw Problem(value, $"{path}: given twice");
            Visit(value, path);
        }
        return members;
    }

    private JsonTree Required(Dictionary<string, JsonTree> members, string at, string name) =>
        members.TryGetValue(name, out var value) ? value
            : throw new MachineDescriptionException(_source, LineOf(at), $"{Where(at)}missing required member '{name}'");

    private List<JsonTree> Items(JsonTree tree, string at) =>
        tree is JsonTree.Array array ? array.Items : throw Problem(tree, $"{at}: expected an array, found {tree.KindName}");

    private string String(JsonTree tree, string at) =>
        tree is JsonTree.Value { Type: JsonTokenType.String } v ? v.Text : throw Problem(tree, $"{at}: expected a string, found {Describe(tree)}");

    private bool Bool(JsonTree tree, string at) => tree switch
    {
        JsonTree.Value { Type: JsonTokenType.True } => true,
        JsonTree.Value { Type: JsonTokenType.False } => false,
        _ => throw Problem(tree, $"{at}: expected true or false, found {Describe(tree)}"),
    };

    private int Int(JsonTree tree, string at) =>
        tree is JsonTree.Value { Type: JsonTokenType.Number } v && int.TryParse(v.Text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw Problem(tree, $"{at}: expected a whole number, found {Describe(tree)}");

    /// <summary>An address: a "0x…" string (JSON numbers lose precision past 2^53 in many tools) or a number.</summary>
    private ulong Address(JsonTree tree, string at) =>
        tree is JsonTree.Value { Type: JsonTokenType.String or JsonTokenType.Number } v && PageSizeText.TryParseNumber(v.Text, out var value)
            ? value
            : throw Problem(tree, $"{at}: expected an address such as \"0xfee00000\", found {Describe(tree)}");

    private void Visit(JsonTree tree, string path) => _lines.TryAdd(path, JsonTree.LineAt(utf8, tree.Offset));

    private MachineDescriptionException Problem(JsonTree tree, string what) =>
        new(_source, JsonTree.LineAt(utf8, tree.Offset), what);

    private static string Where(string at) => at.Length == 0 ? "" : $"{at}: ";

    private static string Describe(JsonTree tree) =>
        tree is JsonTree.Value { Type: JsonTokenType.String or JsonTokenType.Number } v ? $"{tree.KindName} ({v.Text})" : tree.KindName;
}
