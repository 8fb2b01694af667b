using System.Text;
using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Tests.FaultInjection;

/// <summary>
/// Everything a program could observe of the engine after a step, as text so two runs compare
/// exactly: objects (reserved and published), each IOAS's software copy, alignment and domains,
/// each mock domain's size and tables, every account, every pin on the sequence's memory and the open fds.
/// </summary>
public static class EngineState
{
    public static string Capture(SweepWorld world)
    {
        var s = world.Session;
        var objects = s.Context.Objects.Snapshot();
        var text = new StringBuilder();
        text.Append($"objects {s.Context.Objects.Count}:");
        foreach (var obj in objects)
            text.Append($" {obj.Id.Value}{obj.Kind}");
        text.AppendLine();
        foreach (var ioas in objects.OfType<Ioas>())
        {
            var table = ioas.PageTable;
            text.Append($"ioas {ioas.Id.Value}: align {table.IovaAlignment} domains {table.DomainCount} ranges {string.Join(",", table.UsableRanges())} maps");
            foreach (var m in table.Mappings())
                text.Append($" {m.Iova}->{m.UserAddress:x}/{m.Prot}/{m.PinnedPagesOfSource}");
            text.AppendLine();
        }
        foreach (var hwpt in objects.OfType<HwptPaging>())
        {
            text.Append($"hwpt {hwpt.Id.Value} on {hwpt.Ioas.Id.Value}");
            if (hwpt.Domain is MockDomain mock)
                text.Append($": {mock.MappedBytes} bytes in {mock.TableCount} tables, dirty tracking {mock.DirtyTracking}");
            text.AppendLine();
        }
        text.AppendLine($"accounts user {s.Host.UserAccount.UsedPages} process {s.Host.ProcessAccount.UsedPages} pinned pages {s.Memory.PinnedPages}");
        text.Append("pins");
        for (var page = 0UL; page < SweepWorld.BufferBytes; page += CpuPage.Size)
            text.Append($" {s.Memory.PinCount(world.Buffer + page)}");
        text.AppendLine();
        text.AppendLine($"fds {((SimulatedObjectFiles)s.Host.Files).OpenCount}, known {world.Fds.Count}");
        return text.ToString();
    }

    /// <summary>
    /// The invariants that hold whatever happened: every paging HWPT's mock domain translates every
    /// IOVA of its IOAS's software copy to the same page, and holds nothing else; every fd the
    /// engine has open is one the program knows; no object is reserved without being published.
    /// </summary>
    public static void AssertInvariants(SweepWorld world, string where)
    {
        var s = world.Session;
        var objects = s.Context.Objects.Snapshot();
        Assert.True(objects.Count == s.Context.Objects.Count, $"{where}: an object is reserved but never published or aborted");
        Assert.True(((SimulatedObjectFiles)s.Host.Files).OpenCount == world.Fds.Count, $"{where}: the engine holds an fd the program never learnt of");
        foreach (var hwpt in objects.OfType<HwptPaging>())
        {
            if (hwpt.Domain is not MockDomain domain)
                continue;
            var expected = 0UL;
            foreach (var m in hwpt.Ioas.PageTable.Mappings())
            {
                expected += m.Iova.Length;
                for (var off = 0UL; off < m.Iova.Length; off += MockDomain.PageSize)
                {
                    var phys = domain.IovaToPhys(m.Iova.Start + off);
                    Assert.True(phys is { } p && CpuPage.Offset(p) == CpuPage.Offset(m.UserAddress + off) && s.Memory.SamePage(p, m.UserAddress + off),
                        $"{where}: HWPT {hwpt.Id} does not map IOVA 0x{m.Iova.Start + off:x} to its software copy");
                }
            }
            Assert.True(domain.MappedBytes == expected, $"{where}: HWPT {hwpt.Id} holds {domain.MappedBytes} bytes, its IOAS maps {expected}");
        }
    }
}
