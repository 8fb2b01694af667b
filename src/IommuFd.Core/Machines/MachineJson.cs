using System.Buffers;
using System.Text;
using System.Text.Json;

namespace IommuFd.Core.Machines;

/// <summary>
/// The JSON form of a machine description (schema: docs/machines.md). Reading reports every
/// problem as "file:line: path: what"; writing produces text that reads back to an equal description.
/// </summary>
public static class MachineJson
{
    /// <summary>Reads and validates a description from JSON text; <paramref name="source"/> names it in errors.</summary>
    public static MachineDescription Parse(string json, string? source = null) => Parse(Encoding.UTF8.GetBytes(json), source);

    /// <summary>Reads and validates a description; throws <see cref="MachineDescriptionException"/> on the first problem.</summary>
    public static MachineDescription Parse(byte[] utf8, string? source = null)
    {
        var tree = JsonTree.Parse(utf8, source);
        var reader = new MachineJsonReader(utf8, source);
        var machine = reader.Machine(tree);
        MachineValidation.Check(machine, source ?? "<json>", reader.LineOf);
        return machine;
    }

    /// <summary>The description as JSON that <see cref="Parse(string, string?)"/> reads back to an equal one.</summary>
    public static string Write(MachineDescription machine)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("name", machine.Name);
            if (machine.Summary.Length != 0)
                json.WriteString("summary", machine.Summary);
            json.WriteStartArray("iommus");
            foreach (var iommu in machine.Iommus)
                WriteIommu(json, iommu);
            json.WriteEndArray();
            json.WriteStartArray("devices");
            foreach (var device in machine.Devices)
                WriteDevice(json, device);
            json.WriteEndArray();
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan) + "\n";
    }

    private static void WriteIommu(Utf8JsonWriter json, IommuDescription iommu)
    {
        json.WriteStartObject();
        json.WriteString("id", iommu.Id);
        json.WriteString("model", IommuModels.Name(iommu.Model));
        if (iommu.Model != IommuModel.Selftest)
        {
            json.WriteNumber("addressWidth", iommu.AddressWidth);
            json.WriteStartArray("pageSizes");
            foreach (var size in PageSizeText.Sizes(iommu.PageSizes))
                json.WriteStringValue(PageSizeText.Format(size));
            json.WriteEndArray();
        }
        json.WriteNumber("iotlbEntries", iommu.IotlbEntries);
        if (iommu.Model != IommuModel.Selftest)
        {
            json.WriteBoolean("dirtyTracking", iommu.DirtyTracking);
            json.WriteBoolean("nesting", iommu.Nesting);
            json.WriteNumber("pasidWidth", iommu.PasidWidth);
            json.WriteBoolean("pri", iommu.Pri);
        }
        json.WriteEndObject();
    }

    private static void WriteDevice(Utf8JsonWriter json, DeviceDescription device)
    {
        json.WriteStartObject();
        json.WriteString("name", device.Name);
        json.WriteString("pci", device.Pci.ToString());
        json.WriteString("group", device.Group);
        json.WriteString("iommu", device.Iommu);
        json.WriteString("model", device.Model);
        if (device.ReservedRegions.Count != 0)
        {
            json.WriteStartArray("reservedRegions");
            foreach (var region in device.ReservedRegions)
            {
                json.WriteStartObject();
                json.WriteString("start", $"0x{region.Start:x}");
                json.WriteString("last", $"0x{region.Last:x}");
                json.WriteEndObject();
            }
            json.WriteEndArray();
        }
        json.WriteEndObject();
    }
}
