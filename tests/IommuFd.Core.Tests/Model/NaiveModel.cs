using System.Numerics;
using IommuFd.Core;

namespace IommuFd.Core.Tests.Model;

/// <summary>One mapping of the model: IOVAs, the user address, and which MAP's memory it shares.</summary>
public sealed record ModelArea(ulong Start, ulong Last, ulong UserAddress, IoProt Prot, int Source)
{
    public ulong Length => Last - Start + 1;
}

/// <summary>The memory behind one MAP (COPY shares it): pinned and charged once.</summary>
public sealed record ModelSource(int Id, bool Writable);

/// <summary>A domain as the model sees it: aperture, and which map call number fails.</summary>
public sealed record ModelDomainSpec(ulong ApertureStart, ulong ApertureLast, int FailOnMapCall);

public sealed class ModelIoas
{
    public List<ModelArea> Areas { get; } = [];
    public List<(ulong Start, ulong Last, int Owner)> Reserved { get; } = [];
    public List<(ulong Start, ulong Last)> Allowed { get; set; } = [];
    public List<int> Domains { get; } = [];

    public ulong Alignment => Domains.Count > 0 ? ModelWorld.DomainPage : 1;
}

/// <summary>
/// A deliberately naive iommufd: lists, linear scans and whole-state recomputation, written from
/// the kernel's rules and nothing of the engine's structure. Each operation predicts the errno,
/// the chosen IOVA and the resulting state; the test checks the engine agrees after every step.
/// </summary>
public sealed class ModelWorld
{
    public const ulong DomainPage = 4096;
    public const int NoOwner = -1;

    public ModelWorld(int ioasCount, IReadOnlyList<ModelDomainSpec> domains, ulong memlockPages, UserLayout layout)
    {
        for (var i = 0; i < ioasCount; i++)
            Ioases.Add(new ModelIoas());
        DomainSpecs = domains;
        DomainAttachedTo = Enumerable.Repeat(-1, domains.Count).ToList();
        DomainMapCalls = new int[domains.Count];
        MemlockPages = memlockPages;
        Layout = layout;
    }

    public List<ModelIoas> Ioases { get; } = [];
    public IReadOnlyList<ModelDomainSpec> DomainSpecs { get; }
    public List<int> DomainAttachedTo { get; }
    public int[] DomainMapCalls { get; }
    public List<ModelSource> Sources { get; } = [];
    public ulong MemlockPages { get; }
    public UserLayout Layout { get; }

    public Errno LastErrno { get; set; }
    public ulong LastValue { get; set; }

    // ---- accounting -------------------------------------------------------------------------

    /// <summary>Page numbers each source has pinned: the union of its areas in IOASes that have a domain.</summary>
    public Dictionary<int, HashSet<ulong>> PinnedPagesBySource()
    {
        var pinned = new Dictionary<int, HashSet<ulong>>();
        foreach (var ioas in Ioases.Where(i => i.Domains.Count > 0))
            foreach (var a in ioas.Areas)
            {
                if (!pinned.TryGetValue(a.Source, out var set))
                    pinned[a.Source] = set = [];
                foreach (var p in PagesOf(a.UserAddress, a.Length))
                    set.Add(p);
            }
        return pinned;
    }

    public ulong ChargedPages() => (ulong)PinnedPagesBySource().Values.Sum(s => s.Count);

    public ulong PinCount(ulong page) => (ulong)PinnedPagesBySource().Values.Count(s => s.Contains(page));

    private static IEnumerable<ulong> PagesOf(ulong userAddress, ulong length)
    {
        for (var p = userAddress >> 12; p <= (userAddress + length - 1) >> 12; p++)
            yield return p;
    }

    /// <summary>
    /// Pins an area's pages on behalf of its source, given what that source has pinned so far:
    /// ENOMEM past the limit (checked first), EFAULT for memory that cannot be pinned.
    /// </summary>
    private Errno PinArea(ModelArea area, Dictionary<int, HashSet<ulong>> pinned, ref ulong charged)
    {
        if (!pinned.TryGetValue(area.Source, out var set))
            pinned[area.Source] = set = [];
        var fresh = PagesOf(area.UserAddress, area.Length).Where(p => !set.Contains(p)).ToList();
        if (charged + (ulong)fresh.Count > MemlockPages)
            return Errno.ENOMEM;
        var writable = Sources[area.Source].Writable;
        if (fresh.Any(p => !Layout.Pinnable(p << 12, writable)))
            return Errno.EFAULT;
        foreach (var p in fresh)
            set.Add(p);
        charged += (ulong)fresh.Count;
        return Errno.Ok;
    }

    /// <summary>Counts a domain map call; false when it is the call the domain was told to fail.</summary>
    private bool DomainMapSucceeds(int domain) => ++DomainMapCalls[domain] != DomainSpecs[domain].FailOnMapCall;

    // ---- MAP / COPY -------------------------------------------------------------------------

    public void Map(int ioasIndex, ulong userAddress, ulong length, IoProt prot, bool fixedIova, ulong iova)
    {
        LastValue = 0;
        // The kernel's request checks: all-ones IOVA or length, then no access.
        if (iova == ulong.MaxValue || length == ulong.MaxValue) { LastErrno = Errno.EOVERFLOW; return; }
        if ((prot & (IoProt.Read | IoProt.Write)) == 0) { LastErrno = Errno.EINVAL; return; }
        if (userAddress > ulong.MaxValue - length) { LastErrno = Errno.EOVERFLOW; return; }
        if (length == 0) { LastErrno = Errno.EINVAL; return; }
        var source = new ModelSource(Sources.Count, prot.HasFlag(IoProt.Write));
        Sources.Add(source);
        MapSlices(ioasIndex, [(userAddress, length, source.Id)], length, prot, fixedIova, iova);
    }

    public void Copy(int dstIndex, int srcIndex, ulong srcIova, ulong length, IoProt prot, bool fixedIova, ulong dstIova)
    {
        LastValue = 0;
        if (dstIova == ulong.MaxValue || srcIova == ulong.MaxValue || length == ulong.MaxValue) { LastErrno = Errno.EOVERFLOW; return; }
        if ((prot & (IoProt.Read | IoProt.Write)) == 0) { LastErrno = Errno.EINVAL; return; }
        if (length == 0) { LastErrno = Errno.EINVAL; return; }
        if (srcIova > ulong.MaxValue - (length - 1)) { LastErrno = Errno.EOVERFLOW; return; }
        var last = srcIova + length - 1;
        var src = Ioases[srcIndex];
        var slices = new List<(ulong, ulong, int)>();
        var cursor = srcIova;
        while (true)
        {
            var area = src.Areas.FirstOrDefault(a => a.Start <= cursor && a.Last >= cursor);
            if (area is null) { LastErrno = Errno.ENOENT; return; }
            var end = Math.Min(area.Last, last);
            slices.Add((area.UserAddress + (cursor - area.Start), end - cursor + 1, area.Source));
            if (end == last)
                break;
            cursor = end + 1;
        }
        MapSlices(dstIndex, slices, length, prot, fixedIova, dstIova);
    }

    private void MapSlices(int ioasIndex, List<(ulong UserAddress, ulong Length, int Source)> slices, ulong length, IoProt prot, bool fixedIova, ulong iova)
    {
        var ioas = Ioases[ioasIndex];
        var align = ioas.Alignment;
        prot |= IoProt.Cache;
        if (length % align != 0) { LastErrno = Errno.EINVAL; return; }
        if (!fixedIova)
        {
            var rc = AllocateIova(ioas, slices[0].UserAddress, length, out iova);
            if (rc != Errno.Ok) { LastErrno = rc; return; }
        }
        else
        {
            if (iova % align != 0) { LastErrno = Errno.EINVAL; return; }
            if (iova > ulong.MaxValue - (length - 1)) { LastErrno = Errno.EOVERFLOW; return; }
            var last = iova + length - 1;
            if (ioas.Reserved.Any(r => r.Start <= last && r.Last >= iova)) { LastErrno = Errno.EINVAL; return; }
            if (ioas.Areas.Any(a => a.Start <= last && a.Last >= iova)) { LastErrno = Errno.EEXIST; return; }
        }
        var areas = new List<ModelArea>();
        var at = iova;
        foreach (var (uva, len, src) in slices)
        {
            if (prot.HasFlag(IoProt.Write) && !Sources[src].Writable) { LastErrno = Errno.EPERM; return; }
            if ((uva % 4096) % align != 0) { LastErrno = Errno.EINVAL; return; }
            if (at % align != 0 || len % align != 0) { LastErrno = Errno.EINVAL; return; }
            areas.Add(new ModelArea(at, at + len - 1, uva, prot, src));
            at += len;
        }
        if (ioas.Domains.Count > 0)
        {
            var pinned = PinnedPagesBySource();
            var charged = ChargedPages();
            foreach (var area in areas)
            {
                var rc = PinArea(area, pinned, ref charged);
                if (rc != Errno.Ok) { LastErrno = rc; return; }
                foreach (var d in ioas.Domains)
                    if (!DomainMapSucceeds(d)) { LastErrno = Errno.ENOMEM; return; }
            }
        }
        ioas.Areas.AddRange(areas);
        LastErrno = Errno.Ok;
        LastValue = iova;
    }

    /// <summary>First fit, scanning every hole of every allowed window in order (the kernel's rule, naively).</summary>
    private static Errno AllocateIova(ModelIoas ioas, ulong userAddress, ulong length, out ulong iova)
    {
        iova = 0;
        if (length == 0 || length >= ulong.MaxValue / 2)
            return Errno.EOVERFLOW;
        var align = BitOperations.RoundUpToPowerOf2(length);
        if (userAddress != 0)
            align = Math.Min(align, userAddress & (~userAddress + 1));
        align = Math.Min(align, 2UL << 20);
        if (align < ioas.Alignment)
            return Errno.EINVAL;
        var pageOffset = userAddress % 4096;
        var used = ioas.Areas.Select(a => (a.Start, a.Last)).Concat(ioas.Reserved.Select(r => (r.Start, r.Last)))
            .OrderBy(u => u.Item1).ToList();
        foreach (var (wStart, wLast) in Windows(ioas))
        {
            if (!Fit(wStart, wLast, length, align, pageOffset, out var lo))
                continue;
            // Holes between used ranges, clipped to [lo, wLast].
            var cursor = lo;
            foreach (var (s, l) in used.Where(u => u.Item2 >= lo))
            {
                if (s > cursor && Fit(cursor, Math.Min(s - 1, wLast), length, align, pageOffset, out iova))
                    return Errno.Ok;
                if (l >= wLast)
                    goto nextWindow;
                cursor = Math.Max(cursor, l + 1);
            }
            if (Fit(cursor, wLast, length, align, pageOffset, out iova))
                return Errno.Ok;
        nextWindow:;
        }
        return Errno.ENOSPC;
    }

    private static IEnumerable<(ulong, ulong)> Windows(ModelIoas ioas)
    {
        const ulong lo = 4096, hi = ulong.MaxValue - 4096;
        if (ioas.Allowed.Count == 0)
        {
            yield return (lo, hi);
            yield break;
        }
        var merged = new List<(ulong S, ulong L)>();
        foreach (var (s, l) in ioas.Allowed.OrderBy(a => a.Start))
        {
            if (l < lo || s > hi) continue;
            var cs = Math.Max(s, lo);
            var cl = Math.Min(l, hi);
            if (merged.Count > 0 && merged[^1].L + 1 == cs)
                merged[^1] = (merged[^1].S, cl);
            else
                merged.Add((cs, cl));
        }
        foreach (var m in merged)
            yield return m;
    }

    private static bool Fit(ulong start, ulong last, ulong length, ulong align, ulong pageOffset, out ulong at)
    {
        at = 0;
        if (start > last || last - start < length - 1)
            return false;
        if (start > ulong.MaxValue - (align - 1))
            return false;
        at = ((start + align - 1) / align * align) | pageOffset;
        return at <= last && last - at >= length - 1;
    }

    // ---- UNMAP ------------------------------------------------------------------------------

    public void Unmap(int ioasIndex, ulong iova, ulong length)
    {
        LastValue = 0;
        var ioas = Ioases[ioasIndex];
        ulong last;
        if (iova == 0 && length == ulong.MaxValue)
        {
            last = ulong.MaxValue;
        }
        else
        {
            if (iova == ulong.MaxValue || length == ulong.MaxValue) { LastErrno = Errno.EOVERFLOW; return; }
            if (length == 0) { LastErrno = Errno.EINVAL; return; }
            if (iova > ulong.MaxValue - (length - 1)) { LastErrno = Errno.EOVERFLOW; return; }
            last = iova + length - 1;
        }
        var hit = ioas.Areas.Where(a => a.Start <= last && a.Last >= iova).ToList();
        var all = iova == 0 && length == ulong.MaxValue;
        if (hit.Count == 0) { LastErrno = all ? Errno.Ok : Errno.ENOENT; return; }
        if (hit.Any(a => a.Start < iova || a.Last > last)) { LastErrno = Errno.ENOENT; return; }
        foreach (var a in hit)
            ioas.Areas.Remove(a);
        LastErrno = Errno.Ok;
        LastValue = (ulong)hit.Sum(a => (decimal)a.Length);
    }

    // ---- ranges -----------------------------------------------------------------------------

    public void Allow(int ioasIndex, List<(ulong Start, ulong Last)> ranges)
    {
        var ioas = Ioases[ioasIndex];
        if (ranges.Any(r => r.Start >= r.Last)) { LastErrno = Errno.EINVAL; return; }
        for (var i = 0; i < ranges.Count; i++)
            for (var j = i + 1; j < ranges.Count; j++)
                if (ranges[i].Start <= ranges[j].Last && ranges[j].Start <= ranges[i].Last) { LastErrno = Errno.EINVAL; return; }
        if (ranges.Any(r => ioas.Reserved.Any(x => x.Start <= r.Last && x.Last >= r.Start))) { LastErrno = Errno.EADDRINUSE; return; }
        ioas.Allowed = ranges;
        LastErrno = Errno.Ok;
    }

    public void Reserve(int ioasIndex, ulong start, ulong last) => LastErrno = Reserve(Ioases[ioasIndex], start, last, NoOwner);

    private static Errno Reserve(ModelIoas ioas, ulong start, ulong last, int owner)
    {
        if (start > last)
            return Errno.EINVAL;
        if (ioas.Areas.Any(a => a.Start <= last && a.Last >= start) || ioas.Allowed.Any(a => a.Start <= last && a.Last >= start))
            return Errno.EADDRINUSE;
        ioas.Reserved.Add((start, last, owner));
        return Errno.Ok;
    }

    /// <summary>The usable IOVA: holes between reserved ranges over the whole 64-bit space.</summary>
    public static List<IovaRange> Usable(ModelIoas ioas)
    {
        var holes = new List<IovaRange>();
        var cursor = 0UL;
        var done = false;
        foreach (var (s, l, _) in ioas.Reserved.OrderBy(r => r.Start))
        {
            if (done) break;
            if (l < cursor && cursor != 0) continue;
            if (s > cursor)
                holes.Add(new IovaRange(cursor, s - 1));
            if (l == ulong.MaxValue) { done = true; break; }
            cursor = Math.Max(cursor, l + 1);
        }
        if (!done)
            holes.Add(new IovaRange(cursor, ulong.MaxValue));
        return holes;
    }

    // ---- domains ----------------------------------------------------------------------------

    public void Attach(int domain, int ioasIndex)
    {
        var ioas = Ioases[ioasIndex];
        var spec = DomainSpecs[domain];
        if (ioas.Alignment < DomainPage &&
            ioas.Areas.Any(a => a.Start % DomainPage != 0 || a.Length % DomainPage != 0 || a.UserAddress % DomainPage != 0))
        { LastErrno = Errno.EADDRINUSE; return; }
        var reservedBefore = ioas.Reserved.Count;
        var rc = Errno.Ok;
        if (spec.ApertureStart != 0)
            rc = Reserve(ioas, 0, spec.ApertureStart - 1, domain);
        if (rc == Errno.Ok && spec.ApertureLast != ulong.MaxValue)
            rc = Reserve(ioas, spec.ApertureLast + 1, ulong.MaxValue, domain);
        if (rc == Errno.Ok)
        {
            var first = ioas.Domains.Count == 0;
            var pinned = PinnedPagesBySource();
            var charged = ChargedPages();
            foreach (var area in ioas.Areas.OrderBy(a => a.Start))
            {
                if (first)
                    rc = PinArea(area, pinned, ref charged);
                if (rc == Errno.Ok && !DomainMapSucceeds(domain))
                    rc = Errno.ENOMEM;
                if (rc != Errno.Ok)
                    break;
            }
        }
        if (rc != Errno.Ok)
        {
            ioas.Reserved.RemoveRange(reservedBefore, ioas.Reserved.Count - reservedBefore);
            LastErrno = rc;
            return;
        }
        ioas.Domains.Add(domain);
        DomainAttachedTo[domain] = ioasIndex;
        LastErrno = Errno.Ok;
    }

    public void Detach(int domain)
    {
        var ioasIndex = DomainAttachedTo[domain];
        var ioas = Ioases[ioasIndex];
        ioas.Domains.Remove(domain);
        ioas.Reserved.RemoveAll(r => r.Owner == domain);
        DomainAttachedTo[domain] = -1;
        LastErrno = Errno.Ok;
    }
}

/// <summary>Which simulated user pages exist and with what protection.</summary>
public sealed record UserLayout(ulong WritableBase, ulong WritablePages, ulong ReadOnlyBase, ulong ReadOnlyPages)
{
    public bool Pinnable(ulong pageAddress, bool writable)
    {
        if (pageAddress >= WritableBase && pageAddress < WritableBase + WritablePages * 4096)
            return true;
        return !writable && pageAddress >= ReadOnlyBase && pageAddress < ReadOnlyBase + ReadOnlyPages * 4096;
    }
}
