using System.Diagnostics;

namespace IommuFd.Core.Collections;

/// <summary>
/// A count per integer key (a page index) stored as disjoint runs of equal count; neighbouring
/// runs of equal count are merged, so pinning a million adjacent pages one by one leaves one run.
/// Adding or removing a range costs O((runs touched + 1) · log runs). Not thread-safe.
/// </summary>
internal sealed class RangeCounter
{
    private sealed class Run : SpanNode
    {
        internal ulong Count;
    }

    private readonly SpanTree _runs = new();

    /// <summary>Keys with a non-zero count.</summary>
    public ulong CoveredCount { get; private set; }

    public int RunCount => _runs.Count;

    public ulong Get(ulong key)
    {
        var run = _runs.Floor(key);
        return run is not null && run.Last >= key ? ((Run)run).Count : 0;
    }

    /// <summary>The last key, at most <paramref name="limit"/>, that has the same count as <paramref name="key"/>'s run.</summary>
    public ulong RunEnd(ulong key, ulong limit)
    {
        var run = _runs.Floor(key);
        if (run is not null && run.Last >= key)
            return Math.Min(run.Last, limit);
        var next = _runs.Higher(key);
        return next is null || next.Start > limit ? limit : next.Start - 1;
    }

    /// <summary>Keys in [first, last] whose count is zero (those an <see cref="Add"/> would newly cover).</summary>
    public ulong CountUncovered(ulong first, ulong last)
    {
        var covered = 0UL;
        foreach (var node in _runs.Intersecting(first, last))
            covered += Math.Min(node.Last, last) - Math.Max(node.Start, first) + 1;
        return last - first + 1 - covered;
    }

    /// <summary>The maximal sub-ranges of [first, last] whose count is zero, in order.</summary>
    public List<(ulong First, ulong Last)> Uncovered(ulong first, ulong last)
    {
        var holes = new List<(ulong, ulong)>();
        var cursor = first;
        var done = false;
        foreach (var node in _runs.Intersecting(first, last))
        {
            if (node.Start > cursor)
                holes.Add((cursor, node.Start - 1));
            if (node.Last >= last) { done = true; break; }
            cursor = node.Last + 1;
        }
        if (!done)
            holes.Add((cursor, last));
        return holes;
    }

    /// <summary>Adds one to every key in [first, last]; returns how many keys went from 0 to 1.</summary>
    public ulong Add(ulong first, ulong last)
    {
        Debug.Assert(first <= last);
        var inside = RunsWithin(first, last);
        var newly = 0UL;
        var cursor = first;
        var reachedEnd = false;
        foreach (var run in inside)
        {
            if (run.Start > cursor)
                newly += InsertRun(cursor, run.Start - 1);
            run.Count++;
            if (run.Last == last) { reachedEnd = true; break; }
            cursor = run.Last + 1;
        }
        if (!reachedEnd)
            newly += InsertRun(cursor, last);
        CoveredCount += newly;
        MergeAt(first);
        if (last != ulong.MaxValue)
            MergeAt(last + 1);
        return newly;
    }

    /// <summary>Subtracts one from every key in [first, last] (all must be non-zero); returns how many reached 0.</summary>
    public ulong Remove(ulong first, ulong last)
    {
        Debug.Assert(first <= last);
        var freed = 0UL;
        var toDelete = new List<Run>();
        foreach (var run in RunsWithin(first, last))
        {
            Debug.Assert(run.Count > 0);
            if (--run.Count == 0)
            {
                toDelete.Add(run);
                freed += run.Last - run.Start + 1;
            }
        }
        foreach (var run in toDelete)
            _runs.Remove(run);
        CoveredCount -= freed;
        MergeAt(first);
        if (last != ulong.MaxValue)
            MergeAt(last + 1);
        return freed;
    }

    /// <summary>Splits the runs at the range's edges and returns those now lying inside it, in order.</summary>
    private List<Run> RunsWithin(ulong first, ulong last)
    {
        SplitAt(first);
        if (last != ulong.MaxValue)
            SplitAt(last + 1);
        var runs = new List<Run>();
        foreach (var node in _runs.Intersecting(first, last))
            runs.Add((Run)node);
        return runs;
    }

    private ulong InsertRun(ulong first, ulong last)
    {
        _runs.Insert(new Run { Start = first, Last = last, Count = 1 });
        return last - first + 1;
    }

    /// <summary>Joins the run starting at <paramref name="key"/> to the one ending just before it when their counts match.</summary>
    private void MergeAt(ulong key)
    {
        if (key == 0)
            return;
        var run = (Run?)_runs.Floor(key);
        if (run is null || run.Start != key)
            return;
        var before = (Run?)_runs.Floor(key - 1);
        if (before is null || before.Last != key - 1 || before.Count != run.Count)
            return;
        _runs.Remove(run);
        _runs.Remove(before);
        before.Last = run.Last;
        _runs.Insert(before);
    }

    /// <summary>Makes <paramref name="key"/> the first key of its run, splitting the run that spans it.</summary>
    private void SplitAt(ulong key)
    {
        var run = (Run?)_runs.Floor(key);
        if (run is null || run.Start == key || run.Last < key)
            return;
        var tail = new Run { Start = key, Last = run.Last, Count = run.Count };
        _runs.Remove(run);
        run.Last = key - 1;
        _runs.Insert(run);
        _runs.Insert(tail);
    }
}
