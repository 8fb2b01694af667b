using IommuFd.Core.FaultInjection;

namespace IommuFd.Abi.Tests.FaultInjection;

/// <summary>
/// The fail-nth sweep: every fault site every sequence reaches fails once, in turn, and each time
/// the command returns the site's errno and the engine is exactly as before it (see <see cref="FailNthSweep"/>).
/// </summary>
public sealed class FailNthSweepTests(ITestOutputHelper output)
{
    public static TheoryData<string> Sequences => [.. FailNthSequences.All.Select(s => s.Name)];

    [Theory]
    [MemberData(nameof(Sequences))]
    public void Every_fault_site_unwinds(string name)
    {
        var result = FailNthSweep.Run(FailNthSequences.All.Single(s => s.Name == name));
        output.WriteLine($"{result.Sequence}: {result.Steps} steps, {result.SitesReached} sites reached, {result.Injections} injections ({result.Absorbed} absorbed), {result.DistinctSites.Count} distinct sites");
        foreach (var site in result.DistinctSites.Order())
            output.WriteLine("  " + site);
        Assert.True(result.SitesReached >= result.Steps, "every step copies its struct in, so reaches at least one site");
        Assert.Equal(result.SitesReached, result.Injections);
    }

    [Fact]
    public void The_countdown_behaves_as_the_kernels_fail_nth()
    {
        FailNth.Remaining = 3;
        Assert.Equal(IommuFd.Core.Errno.Ok, FailNth.Check(FaultSite.ObjectAlloc));
        Assert.Equal(2, FailNth.Remaining);
        Assert.False(FailNth.ShouldFail(FaultSite.Pin));
        Assert.Equal(IommuFd.Core.Errno.EFAULT, FailNth.Check(FaultSite.UserCopy));
        Assert.Equal(0, FailNth.Remaining);
        Assert.Equal(FaultSite.UserCopy, FailNth.LastInjected?.Site);
        // Injected once: the following sites run normally.
        Assert.Equal(IommuFd.Core.Errno.Ok, FailNth.Check(FaultSite.ObjectAlloc));
        Assert.Throws<ArgumentOutOfRangeException>(() => FailNth.Remaining = -1);
    }

    [Fact]
    public void The_setting_belongs_to_one_thread()
    {
        FailNth.Remaining = 1;
        (int, IommuFd.Core.Errno) other = default;
        var thread = new Thread(() => other = (FailNth.Remaining, FailNth.Check(FaultSite.ObjectAlloc)));
        thread.Start();
        thread.Join();
        Assert.Equal((0, IommuFd.Core.Errno.Ok), other);
        Assert.Equal(1, FailNth.Remaining);
        FailNth.Remaining = 0;
    }
}
