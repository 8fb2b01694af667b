using IommuFd.Core.Collections;

namespace IommuFd.Core.Tests.Collections;

public sealed class RangeCounterTests
{
    [Fact]
    public void AgreesWithAnArrayOfCounts()
    {
        var rng = new Random(99);
        var counter = new RangeCounter();
        var counts = new ulong[300];
        var added = new List<(ulong, ulong)>();
        for (var step = 0; step < 5_000; step++)
        {
            if (added.Count == 0 || rng.Next(2) == 0)
            {
                var first = (ulong)rng.Next(0, 280);
                var last = first + (ulong)rng.Next(0, 19);
                var expectedNew = 0UL;
                for (var k = first; k <= last; k++)
                    if (counts[k]++ == 0) expectedNew++;
                Assert.Equal(expectedNew, counter.Add(first, last));
                added.Add((first, last));
            }
            else
            {
                var i = rng.Next(added.Count);
                var (first, last) = added[i];
                added.RemoveAt(i);
                var expectedFreed = 0UL;
                for (var k = first; k <= last; k++)
                    if (--counts[k] == 0) expectedFreed++;
                Assert.Equal(expectedFreed, counter.Remove(first, last));
            }
            var key = (ulong)rng.Next(0, 300);
            Assert.Equal(counts[key], counter.Get(key));
            Assert.Equal((ulong)counts.Count(c => c > 0), counter.CoveredCount);
            var from = (ulong)rng.Next(0, 250);
            var to = from + (ulong)rng.Next(0, 49);
            var uncovered = 0UL;
            for (var k = from; k <= to; k++)
                if (counts[k] == 0) uncovered++;
            Assert.Equal(uncovered, counter.CountUncovered(from, to));
            Assert.Equal(uncovered, counter.Uncovered(from, to).Aggregate(0UL, (s, r) => s + r.Last - r.First + 1));
            // Neighbouring runs of equal count are always merged: as few runs as the counts allow.
            var runs = Enumerable.Range(0, counts.Length).Count(k => counts[k] > 0 && (k == 0 || counts[k - 1] != counts[k]));
            Assert.Equal(runs, counter.RunCount);
        }
    }

    [Fact]
    public void AdjacentSinglePagesPinnedOneByOneAreOneRun()
    {
        var counter = new RangeCounter();
        for (var page = 0UL; page < 10_000; page++)
            counter.Add(page, page);
        Assert.Equal(1, counter.RunCount);
        for (var page = 0UL; page < 10_000; page += 2)
            counter.Remove(page, page);
        Assert.Equal(5_000, counter.RunCount);
        for (var page = 0UL; page < 10_000; page += 2)
            counter.Add(page, page);
        Assert.Equal(1, counter.RunCount);
    }
}
