using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Model;

/// <summary>
/// Random map/unmap/copy/attach/detach/replace across several IOASes, devices of two
/// compatibility families and domains that fail a chosen map call, with manual NEST_PARENT HWPTs,
/// nested HWPTs on them, attaches straight to either, and destroys. After every step each paging
/// HWPT's domain, read through its own look-up, holds exactly its IOAS's software copy, every
/// nested HWPT's parent is alive, and a failed step leaves every observable piece of state as it was.
/// </summary>
public sealed class DeviceAttachRandomTests
{
    private const ulong Page = 4096;
    private const ulong UserBase = 0x10_0000;
    private const int UserPages = 64;

    private sealed record Snapshot(string Text);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void DomainsAlwaysMirrorTheSoftwareCopyAndFailuresChangeNothing(int seed)
    {
        var rng = new Random(seed);
        var memory = new SimulatedUserMemory();
        memory.Map(UserBase, UserPages * Page);
        var host = new IommuHost(memory, 40 * Page);
        var context = new IommufdContext(host);
        var driver = new TestDriver(new IovaRange(0x1_0000, 0xFFFF_FFFF));
        var ioases = new List<IoasId>();
        for (var i = 0; i < 3; i++)
        {
            context.CreateIoas(out var id).ThrowIfError("ioas");
            ioases.Add(id);
        }
        var devices = new List<DeviceId>();
        foreach (var family in new[] { "a", "a", "b", "a", "b" })
        {
            context.BindDevice(driver.CreateDevice(family), out var id).ThrowIfError("bind");
            devices.Add(id);
        }

        var hwpts = new List<HwptId>();
        var failures = 0;
        var successes = 0;
        for (var step = 0; step < 2500; step++)
        {
            var before = Capture(context, ioases, devices, host, driver);
            if (rng.Next(6) == 0)
                driver.NextDomainFailsOnMapCall = rng.Next(1, 6);
            var (what, rc) = RandomStep(rng, context, ioases, devices, hwpts);
            driver.NextDomainFailsOnMapCall = 0;
            var after = Capture(context, ioases, devices, host, driver);
            if (rc != Errno.Ok)
            {
                failures++;
                Assert.True(before == after, $"seed {seed} step {step}: failed {what} ({rc}) changed state\nbefore: {before.Text}\nafter:  {after.Text}");
            }
            else
            {
                successes++;
            }
            AssertDomainsMirror(context, seed, step, what);
        }
        Assert.True(failures > 200 && successes > 500, $"failures {failures}, successes {successes}");
        context.Dispose();
        Assert.Equal(0UL, host.UserAccount.UsedPages);
    }

    private static (string What, Errno Rc) RandomStep(Random rng, IommufdContext context, List<IoasId> ioases, List<DeviceId> devices, List<HwptId> hwpts)
    {
        var ioas = ioases[rng.Next(ioases.Count)];
        var device = devices[rng.Next(devices.Count)];
        var hwpt = hwpts.Count > 0 ? hwpts[rng.Next(hwpts.Count)] : default;
        switch (rng.Next(12))
        {
            case 8:
            {
                var rc = context.AllocHwpt(device, ioas, HwptAllocFlags.NestParent, null, out var parent);
                if (rc == Errno.Ok)
                    hwpts.Add(parent);
                return ($"alloc parent {device} {ioas}", rc);
            }
            case 9:
            {
                var rc = context.AllocHwpt(device, hwpt, HwptAllocFlags.None, new ManagedDriverData(1, new byte[8]), out var nested);
                if (rc == Errno.Ok)
                    hwpts.Add(nested);
                return ($"alloc nested {device} on {hwpt}", rc);
            }
            case 10:
            {
                bool attached;
                using (var d = context.Objects.Hold<Device>(device))
                    attached = d.Held && d.Value.Attached is not null;
                return attached
                    ? ($"replace {device} {hwpt}", context.ReplaceDevice(device, hwpt, out _))
                    : ($"attach {device} {hwpt}", context.AttachDevice(device, hwpt, out _));
            }
            case 11:
            {
                var rc = context.Destroy(hwpt);
                if (rc == Errno.Ok)
                    hwpts.Remove(hwpt);
                return ($"destroy {hwpt}", rc);
            }
            case 0:
            case 1:
            {
                var iova = (ulong)rng.Next(0, 48) * Page + (rng.Next(10) == 0 ? 0x800UL : 0);
                var user = UserBase + (ulong)rng.Next(0, UserPages - 4) * Page;
                var length = (ulong)rng.Next(1, 4) * Page;
                var fixedIova = rng.Next(3) != 0;
                var rc = context.Map(ioas, user, length, IoProt.Read | IoProt.Write, fixedIova ? IovaPlacement.Fixed : IovaPlacement.Automatic, ref iova);
                return ($"map {ioas} 0x{iova:x}", rc);
            }
            case 2:
            {
                var iova = (ulong)rng.Next(0, 48) * Page;
                var rc = context.Unmap(ioas, iova, (ulong)rng.Next(1, 8) * Page, out _);
                return ($"unmap {ioas} 0x{iova:x}", rc);
            }
            case 3:
            {
                var src = ioases[rng.Next(ioases.Count)];
                var srcIova = (ulong)rng.Next(0, 48) * Page;
                var dst = 0UL;
                var rc = context.Copy(ioas, src, srcIova, Page, IoProt.Read, IovaPlacement.Automatic, ref dst);
                return ($"copy {src}@0x{srcIova:x} -> {ioas}", rc);
            }
            case 4:
            case 5:
                return ($"attach {device} {ioas}", context.AttachDevice(device, ioas, out _));
            case 6:
                return ($"replace {device} {ioas}", context.ReplaceDevice(device, ioas, out _));
            default:
                return ($"detach {device}", context.DetachDevice(device));
        }
    }

    /// <summary>Everything a caller can observe, as text, so a failed step can be compared exactly.</summary>
    private static Snapshot Capture(IommufdContext context, List<IoasId> ioases, List<DeviceId> devices, IommuHost host, TestDriver driver)
    {
        var parts = new List<string>();
        foreach (var id in ioases)
        {
            var ioas = context.Objects.Peek<Ioas>(id);
            var table = ioas.PageTable;
            parts.Add($"{id}: {string.Join(",", table.Mappings().Select(m => $"{m.Iova}->{m.UserAddress:x}"))} " +
                      $"ranges {string.Join(",", table.UsableRanges())} align {table.IovaAlignment} domains {table.DomainCount}");
        }
        foreach (var id in devices)
        {
            var device = context.Objects.Peek<Device>(id);
            parts.Add($"{id}->{device.Attached?.Id.ToString() ?? "-"}");
        }
        parts.Add($"objects {context.Objects.Count} charged {host.UserAccount.UsedPages}: " +
                  string.Join(",", context.Objects.Snapshot().Select(o => $"{o.Id}{o.Kind}")));
        // Domains of live HWPTs only: one a failed attach allocated and dropped is not observable.
        var live = context.Objects.Snapshot().OfType<HwptPaging>().Select(h => (RecordingDomain)h.Domain);
        parts.Add("domains " + string.Join("|", live.Select(d => string.Join(",", d.Pages.OrderBy(p => p.Key).Select(p => $"{p.Key:x}:{p.Value.UserAddress:x}")))));
        parts.Add($"driver domains holding pages {driver.Domains.Count(d => d.Pages.Count > 0)}");
        return new Snapshot(string.Join("; ", parts));
    }

    private static void AssertDomainsMirror(IommufdContext context, int seed, int step, string what)
    {
        var objects = context.Objects.Snapshot();
        foreach (var nested in objects.OfType<HwptNested>())
            Assert.True(objects.Contains(nested.Parent), $"seed {seed} step {step} after {what}: {nested.Id} outlived its parent");
        foreach (var obj in objects)
        {
            if (obj is not HwptPaging hwpt)
                continue;
            var domain = (RecordingDomain)hwpt.Domain;
            var expected = 0;
            foreach (var m in hwpt.Ioas.PageTable.Mappings())
            {
                for (var off = 0UL; off < m.Iova.Length; off += Page)
                {
                    expected++;
                    Assert.True(domain.Lookup(m.Iova.Start + off)?.UserAddress == m.UserAddress + off,
                        $"seed {seed} step {step} after {what}: {hwpt.Id} does not map 0x{m.Iova.Start + off:x}");
                }
            }
            Assert.True(expected == domain.Pages.Count, $"seed {seed} step {step} after {what}: {hwpt.Id} holds extra pages");
        }
    }
}
