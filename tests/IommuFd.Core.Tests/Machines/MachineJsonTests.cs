using IommuFd.Core.Machines;

namespace IommuFd.Core.Tests.Machines;

/// <summary>Machine descriptions in JSON: a full file reads as written, and every kind of mistake names its line.</summary>
public sealed class MachineJsonTests
{
    private const string Good = """
        {
          // comments are allowed
          "name": "two-iommus",
          "summary": "one of each",
          "iommus": [
            { "id": "dmar0", "model": "intel-vtd", "addressWidth": 57, "pageSizes": ["4K", "2M"],
              "iotlbEntries": 8, "dirtyTracking": false, "nesting": true, "pasidWidth": 10, "pri": false },
            { "id": "smmu0", "model": "arm-smmuv3", "pageSizes": ["64K", "512M"] }
          ],
          "devices": [
            { "name": "nic", "pci": "0000:00:03.0", "group": "g0", "iommu": "dmar0",
              "reservedRegions": [ { "start": "0x8000000", "last": "0x80fffff" } ] },
            { "name": "disk", "pci": "01:00.1", "group": "g1", "iommu": "smmu0", "model": "dma-test" },
          ]
        }
        """;

    [Fact]
    public void A_complete_file_reads_every_field_and_fills_defaults_from_the_model()
    {
        var machine = MachineJson.Parse(Good, "good.json");
        Assert.Equal("two-iommus", machine.Name);
        Assert.Equal("one of each", machine.Summary);
        var vtd = machine.Iommus[0];
        Assert.Equal(IommuModel.IntelVtd, vtd.Model);
        Assert.Equal(57, vtd.AddressWidth);
        Assert.Equal((1UL << 12) | (1UL << 21), vtd.PageSizes);
        Assert.Equal(8, vtd.IotlbEntries);
        Assert.False(vtd.DirtyTracking);
        Assert.True(vtd.Nesting);
        Assert.Equal(10, vtd.PasidWidth);
        Assert.False(vtd.Pri);
        var smmu = machine.Iommus[1];
        var defaults = IommuDescription.ForModel("smmu0", IommuModel.ArmSmmuV3);
        Assert.Equal(defaults with { PageSizes = (1UL << 16) | (1UL << 29) }, smmu);
        var nic = machine.Devices[0];
        Assert.Equal(new PciAddress(0, 0, 3, 0), nic.Pci);
        Assert.Equal("dmar0", nic.Iommu);
        Assert.Equal(DeviceModels.DmaTest, nic.Model);
        Assert.Equal([new IovaRange(0x800_0000, 0x80f_ffff)], nic.ReservedRegions);
        Assert.Equal(new PciAddress(0, 1, 0, 1), machine.Devices[1].Pci);
        Assert.Same(smmu, machine.IommuOf(machine.Devices[1]));
    }

    [Theory]
    // Syntax: the reader's own position.
    [InlineData("{\n  \"name\": \"x\",\n  \"iommus\": [ }\n}", 3, "invalid JSON")]
    [InlineData("", 1, "invalid JSON")]
    [InlineData("{\"name\":\"x\",\"iommus\":[{\"id\":\"a\",\"model\":\"selftest\"}]}\n{}", 2, "invalid JSON")]
    // Shape and types.
    [InlineData("[]", 1, "expected an object, found an array")]
    [InlineData("{\n \"iommus\": []\n}", 1, "missing required member 'name'")]
    [InlineData("{\n \"name\": \"x\",\n \"iomus\": []\n}", 3, "iomus: unknown member")]
    [InlineData("{\n \"name\": 5,\n \"iommus\": []\n}", 2, "name: expected a string, found a number (5)")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"intel-vtd\",\n    \"nesting\": \"yes\" } ]\n}", 5, "iommus[0].nesting: expected true or false")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"powerpc\" } ]\n}", 4, "unknown model 'powerpc'")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"intel-vtd\",\n  \"pageSizes\": [\"4K\",\n \"3K\"] } ]\n}", 6, "pageSizes[1]: 3K is not a power of two")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"intel-vtd\", \"pageSizes\": [\"4K\", \"4096\"] } ]\n}", 4, "listed twice")]
    // Semantics, at the line of the offending member.
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": []\n}", 3, "at least one IOMMU")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"intel-vtd\",\n    \"addressWidth\": 50 } ]\n}", 5, "50 is not a width intel-vtd supports")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"intel-vtd\",\n    \"pageSizes\": [\"4K\", \"64K\"] } ]\n}", 5, "64K is not a page size of intel-vtd")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"arm-smmuv3\",\n    \"pageSizes\": [\"4K\", \"64K\"] } ]\n}", 5, "one translation granule")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"amd-vi\",\n    \"pasidWidth\": 21 } ]\n}", 5, "21 is out of range")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"amd-vi\",\n    \"iotlbEntries\": 0 } ]\n}", 5, "iotlbEntries: 0 is out of range")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"selftest\",\n    \"nesting\": false } ]\n}", 4, "abilities are fixed")]
    [InlineData("{\n \"name\": \"x\",\n \"iommus\": [\n  { \"id\": \"a\", \"model\": \"amd-vi\" },\n  { \"id\": \"a\", \"model\": \"amd-vi\" } ]\n}", 5, "already the id of another IOMMU")]
    [InlineData(DeviceFile + "\"pci\": \"00:1f.0\", \"group\": \"g\", \"iommu\": \"b\" } ] }", 5, "no IOMMU with id 'b'")]
    [InlineData(DeviceFile + "\"pci\": \"00:20.0\", \"group\": \"g\", \"iommu\": \"a\" } ] }", 5, "'00:20.0' is not a PCI address")]
    [InlineData(DeviceFile + "\"pci\": \"00:01.0\", \"group\": \"g\", \"iommu\": \"a\", \"model\": \"gpu\" } ] }", 5, "unknown device model 'gpu'")]
    [InlineData(DeviceFile + "\"pci\": \"00:01.0\", \"group\": \"g\", \"iommu\": \"a\" },\n { \"name\": \"e\", \"pci\": \"0000:00:01.0\", \"group\": \"h\", \"iommu\": \"a\" } ] }", 6, "0000:00:01.0 is already taken by device 'd'")]
    [InlineData(DeviceFile + "\"pci\": \"00:01.0\", \"group\": \"g\", \"iommu\": \"a\" },\n { \"name\": \"d\", \"pci\": \"00:02.0\", \"group\": \"h\", \"iommu\": \"a\" } ] }", 6, "'d' is already the name of another device")]
    [InlineData(DeviceFile + "\"pci\": \"00:01.0\", \"group\": \"g\", \"iommu\": \"a\" },\n { \"name\": \"e\", \"pci\": \"00:02.0\", \"group\": \"g\", \"iommu\": \"c\" } ] }", 6, "a group cannot span IOMMUs")]
    [InlineData(DeviceFile + "\"pci\": \"00:01.0\", \"group\": \"g\", \"iommu\": \"a\",\n \"reservedRegions\": [ { \"start\": \"0x2000\", \"last\": \"0x1fff\" } ] } ] }", 6, "below start")]
    [InlineData(DeviceFile + "\"pci\": \"00:01.0\", \"group\": \"g\", \"iommu\": \"a\",\n \"reservedRegions\": [ { \"start\": \"fee00000\", \"last\": \"0x1fff\" } ] } ] }", 6, "expected an address")]
    [InlineData(DeviceFile + "\"pci\": \"00:01.0\", \"group\": \"g\", \"iommu\": \"s\" } ] }", 5, "selftest IOMMU has no fixed devices")]
    public void A_bad_file_names_the_line_and_what_is_wrong(string json, int line, string fragment)
    {
        var e = Assert.Throws<MachineDescriptionException>(() => MachineJson.Parse(json, "bad.json"));
        Assert.Equal("bad.json", e.File);
        Assert.Equal(line, e.Line);
        Assert.Contains(fragment, e.Problem);
        Assert.StartsWith($"bad.json:{line}: ", e.Message);
    }

    private const string DeviceFile =
        "{\n \"name\": \"x\",\n \"iommus\": [ { \"id\": \"a\", \"model\": \"intel-vtd\" }, { \"id\": \"c\", \"model\": \"amd-vi\" }, { \"id\": \"s\", \"model\": \"selftest\" } ],\n" +
        " \"devices\": [\n { \"name\": \"d\", ";

    [Fact]
    public void Loading_a_file_reports_its_path_and_a_missing_one_lists_the_presets()
    {
        var path = Path.Combine(Path.GetTempPath(), $"machine-{Guid.NewGuid():n}.json");
        File.WriteAllText(path, "{\n \"name\": \"x\",\n \"iommus\": [ { \"id\": \"a\", \"model\": \"amd-vi\", \"addressWidth\": 31 } ]\n}");
        try
        {
            var e = Assert.Throws<MachineDescriptionException>(() => MachineDescription.Load(path));
            Assert.Equal($"{path}:3: iommus[0].addressWidth: 31 is not a width amd-vi supports (32..64)", e.Message);
        }
        finally
        {
            File.Delete(path);
        }
        var missing = Assert.Throws<MachineDescriptionException>(() => MachineDescription.Load("no-such-machine"));
        Assert.Contains("intel-vtd", missing.Message);
    }
}
