using System.Numerics;

namespace IommuFd.Core.Machines;

/// <summary>
/// The rules a machine description must meet, checked once for every way of building one. The
/// JSON reader passes <c>lineOf</c> so a problem is reported at the line of the offending element.
/// </summary>
internal static class MachineValidation
{
    /// <summary>Throws for the first problem. <paramref name="lineOf"/> maps a path ("iommus[0].addressWidth") to its line.</summary>
    public static void Check(MachineDescription machine, string? source, Func<string, int>? lineOf)
    {
        void Fail(string path, string problem) =>
            throw new MachineDescriptionException(source, lineOf?.Invoke(path) ?? 0, $"{path}: {problem}");

        if (string.IsNullOrWhiteSpace(machine.Name))
            Fail("name", "must not be empty");
        if (machine.Iommus.Count == 0)
            Fail("iommus", "a machine needs at least one IOMMU");

        var iommus = new Dictionary<string, IommuDescription>();
        for (var i = 0; i < machine.Iommus.Count; i++)
        {
            var iommu = machine.Iommus[i];
            var at = $"iommus[{i}]";
            if (string.IsNullOrWhiteSpace(iommu.Id))
                Fail($"{at}.id", "must not be empty");
            if (!iommus.TryAdd(iommu.Id, iommu))
                Fail($"{at}.id", $"'{iommu.Id}' is already the id of another IOMMU");
            CheckIommu(iommu, at, Fail);
        }

        var names = new HashSet<string>();
        var addresses = new Dictionary<PciAddress, string>();
        var groupIommu = new Dictionary<string, string>();
        for (var i = 0; i < machine.Devices.Count; i++)
        {
            var device = machine.Devices[i];
            var at = $"devices[{i}]";
            if (string.IsNullOrWhiteSpace(device.Name))
                Fail($"{at}.name", "must not be empty");
            if (!names.Add(device.Name))
                Fail($"{at}.name", $"'{device.Name}' is already the name of another device");
            if (!addresses.TryAdd(device.Pci, device.Name))
                Fail($"{at}.pci", $"{device.Pci} is already taken by device '{addresses[device.Pci]}'");
            if (!iommus.TryGetValue(device.Iommu, out var iommu))
                Fail($"{at}.iommu", $"no IOMMU with id '{device.Iommu}' (ids: {string.Join(", ", iommus.Keys)})");
            else if (iommu.Model == IommuModel.Selftest)
                Fail($"{at}.iommu", "the selftest IOMMU has no fixed devices: the selftest makes mock devices itself");
            if (string.IsNullOrWhiteSpace(device.Group))
                Fail($"{at}.group", "must not be empty");
            if (groupIommu.TryGetValue(device.Group, out var other) && other != device.Iommu)
                Fail($"{at}.group", $"group '{device.Group}' already sits behind IOMMU '{other}'; a group cannot span IOMMUs");
            groupIommu[device.Group] = device.Iommu;
            if (!DeviceModels.Known.Contains(device.Model))
                Fail($"{at}.model", $"unknown device model '{device.Model}' (known: {string.Join(", ", DeviceModels.Known)})");
            for (var r = 0; r < device.ReservedRegions.Count; r++)
            {
                var region = device.ReservedRegions[r];
                if (region.Last < region.Start)
                    Fail($"{at}.reservedRegions[{r}]", $"last 0x{region.Last:x} is below start 0x{region.Start:x}");
            }
        }
    }

    private static void CheckIommu(IommuDescription iommu, string at, Action<string, string> fail)
    {
        // Hardware IOTLBs hold hundreds to a few thousand entries; eviction scans them all.
        if (iommu.IotlbEntries is < 1 or > 4096)
            fail($"{at}.iotlbEntries", $"{iommu.IotlbEntries} is out of range (1..4096)");
        if (iommu.PasidWidth is < 0 or > IommuModels.MaxPasidWidth)
            fail($"{at}.pasidWidth", $"{iommu.PasidWidth} is out of range (0..{IommuModels.MaxPasidWidth})");
        if (iommu.Model == IommuModel.Selftest)
        {
            // The mock's geometry is the kernel selftest's; only the IOTLB size is ours to choose.
            var mock = IommuDescription.ForModel(iommu.Id, IommuModel.Selftest);
            if (iommu with { IotlbEntries = mock.IotlbEntries } != mock)
                fail(at, "the selftest IOMMU's abilities are fixed; only iotlbEntries may be set");
            return;
        }
        var widths = IommuModels.AllowedAddressWidths(iommu.Model);
        if (!widths.Contains(iommu.AddressWidth))
            fail($"{at}.addressWidth", $"{iommu.AddressWidth} is not a width {IommuModels.Name(iommu.Model)} supports ({Describe(widths)})");
        if (iommu.PageSizes == 0)
            fail($"{at}.pageSizes", "at least one page size is needed");
        var allowed = IommuModels.AllowedPageSizes(iommu.Model);
        var extra = iommu.PageSizes & ~allowed;
        if (extra != 0)
            fail($"{at}.pageSizes", $"{PageSizeText.Format(1UL << BitOperations.TrailingZeroCount(extra))} is not a page size of {IommuModels.Name(iommu.Model)} (allowed: {PageSizeText.FormatList(allowed)})");
        var smallest = iommu.PageSizes & (0 - iommu.PageSizes);
        var largestNeeded = iommu.AddressWidth >= 64 ? ulong.MaxValue : (1UL << iommu.AddressWidth) - 1;
        if (BitOperations.Log2(iommu.PageSizes) > iommu.AddressWidth - 1 || smallest > largestNeeded)
            fail($"{at}.pageSizes", "a page is larger than the address space");
        if (iommu.Model == IommuModel.ArmSmmuV3 && !SingleArmGranule(iommu.PageSizes))
            fail($"{at}.pageSizes", "ARM sizes must come from one translation granule (4K/2M/1G, 16K/32M or 64K/512M)");
    }

    private static bool SingleArmGranule(ulong sizes)
    {
        const ulong granule4 = (1UL << 12) | (1UL << 21) | (1UL << 30);
        const ulong granule16 = (1UL << 14) | (1UL << 25);
        const ulong granule64 = (1UL << 16) | (1UL << 29);
        return (sizes & ~granule4) == 0 || (sizes & ~granule16) == 0 || (sizes & ~granule64) == 0;
    }

    private static string Describe(IReadOnlyList<int> widths)
    {
        var contiguous = widths.Count > 3 && widths[^1] - widths[0] == widths.Count - 1;
        return contiguous ? $"{widths[0]}..{widths[^1]}" : string.Join(", ", widths);
    }
}
