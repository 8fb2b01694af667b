using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Core;
using IommuFd.Core.FaultInjection;

namespace IommuFd.Abi.Tests.FaultInjection;

/// <summary>What one sequence's sweep covered.</summary>
public sealed record SweepResult(string Sequence, int Steps, int SitesReached, int Injections, int Absorbed, IReadOnlySet<string> DistinctSites);

/// <summary>
/// Walks N = 1, 2, 3, … through a sequence with <see cref="FailNth"/> set to N, until a run completes
/// without reaching N. A reference run (nothing injected) records the state before and after every
/// step; a run that fails must fail with the errno of the site injected, leave exactly the state
/// before the failing step (or, for a failed copy back to the caller, the state after it, as the
/// kernel keeps a MAP whose answer could not be written), keep every invariant, still map and
/// unmap, and leave no pin once everything is closed.
/// </summary>
public static class FailNthSweep
{
    /// <summary>Far more than any sequence reaches: a sweep that gets here is looping.</summary>
    private const int MaxN = 5000;

    public static SweepResult Run(FailNthSequence sequence)
    {
        var reference = Reference(sequence, out var finalState);
        var sites = new HashSet<string>();
        var injections = 0;
        var absorbed = 0;
        for (var n = 1; n <= MaxN; n++)
        {
            var world = new SweepWorld();
            var where = $"{sequence.Name}, fail-nth {n}";
            StepFailed? failed = null;
            FailNth.ClearLastInjected();
            FailNth.Remaining = n;
            int left;
            try
            {
                sequence.Run(world);
            }
            catch (StepFailed f)
            {
                failed = f;
            }
            finally
            {
                left = FailNth.Remaining;
                FailNth.Remaining = 0;
            }
            var injected = FailNth.LastInjected;
            if (failed is null && left > 0)
            {
                // The sequence reached n - left sites and did not get to the nth: every site is swept.
                Assert.Equal(finalState, EngineState.Capture(world));
                CloseAndCheck(world, where);
                return new SweepResult(sequence.Name, reference.Count, n - left, injections, absorbed, sites);
            }
            Assert.True(injected is not null && left == 0,
                $"{where}: step {failed?.Index} ({failed?.StepName}) failed with {failed?.Errno} but nothing was injected");
            injections++;
            sites.Add($"{injected.Site} {injected.File}:{injected.Line}");
            where += $" ({injected})";
            var state = EngineState.Capture(world);
            if (failed is null)
            {
                // The failure was absorbed (a best-effort step); the outcome must be the normal one.
                absorbed++;
                Assert.True(finalState == state, $"{where}: absorbed failure changed the outcome\nexpected:\n{finalState}\nactual:\n{state}");
            }
            else
            {
                Assert.True(failed.Errno == injected.Errno, $"{where}: step {failed.Index} ({failed.StepName}) returned {failed.Errno}, the site's errno is {injected.Errno}");
                var (before, after) = reference[failed.Index];
                var undone = state == before;
                var kept = injected.Site == FaultSite.UserCopy && state == after;
                Assert.True(undone || kept, $"{where}: step {failed.Index} ({failed.StepName}) left half-done state\nbefore the step:\n{before}\nafter the failure:\n{state}");
            }
            EngineState.AssertInvariants(world, where);
            StillWorks(world, where);
            CloseAndCheck(world, where);
        }
        throw new InvalidOperationException($"{sequence.Name}: more than {MaxN} fault sites");
    }

    private static List<(string Before, string After)> Reference(FailNthSequence sequence, out string finalState)
    {
        var states = new List<(string, string)>();
        string? pending = null;
        SweepWorld? world = null;
        world = new SweepWorld
        {
            Recorder = (index, _, done) =>
            {
                var state = EngineState.Capture(world!);
                if (!done)
                    pending = state;
                else
                    states.Add((pending!, state));
            },
        };
        FailNth.Remaining = 0;
        sequence.Run(world);
        EngineState.AssertInvariants(world, $"{sequence.Name} (reference)");
        finalState = EngineState.Capture(world);
        CloseAndCheck(world, $"{sequence.Name} (reference)");
        return states;
    }

    /// <summary>A fresh map and unmap succeed on every IOAS and change nothing once undone.</summary>
    private static void StillWorks(SweepWorld world, string where)
    {
        var s = world.Session;
        var before = EngineState.Capture(world);
        foreach (var ioas in s.Context.Objects.Snapshot().OfType<Core.Objects.Ioas>())
        {
            var map = Cmd.Map(ioas.Id.Value, world.Spare, 0x2000);
            Assert.True(s.Ioctl(ref map) == Errno.Ok, $"{where}: IOAS {ioas.Id} cannot map any more");
            EngineState.AssertInvariants(world, where + " then a fresh map");
            Assert.True(s.Unmap(ioas.Id.Value, map.Iova, 0x2000, out _) == Errno.Ok, $"{where}: IOAS {ioas.Id} cannot unmap");
        }
        Assert.Equal(before, EngineState.Capture(world));
    }

    private static void CloseAndCheck(SweepWorld world, string where)
    {
        var s = world.Session;
        world.CloseEverything();
        Assert.True(s.Memory.PinnedPages == 0, $"{where}: {s.Memory.PinnedPages} pages still pinned after closing everything");
        Assert.True(s.Host.UserAccount.UsedPages == 0, $"{where}: {s.Host.UserAccount.UsedPages} pages still charged after closing everything");
        Assert.True(((Core.Objects.SimulatedObjectFiles)s.Host.Files).OpenCount == 0, $"{where}: an fd is still open after closing everything");
    }
}
