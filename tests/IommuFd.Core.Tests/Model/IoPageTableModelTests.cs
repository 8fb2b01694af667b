using CsCheck;
using IommuFd.Core;

namespace IommuFd.Core.Tests.Model;

/// <summary>
/// Random sequences of map/unmap/copy/allow/reserve/attach/detach on the engine and on the naive
/// model; after every step the errno, the returned value, every IOAS's mappings, every domain's
/// contents (read through the domain's own look-up), the usable ranges, the memlock charge and
/// the per-page pin counts must agree. CsCheck shrinks a failure to the shortest sequence.
/// </summary>
public sealed class IoPageTableModelTests
{
    private const int IoasCount = 2;
    private const ulong Page = 4096;
    private static readonly UserLayout Layout = new(0x10_0000, 48, 0x20_0000, 8);

    private static long s_operations;
    private static long s_succeeded;
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<Errno, int> s_errnos = new();

    // IOVAs cluster in a small window (so operations collide) with a few near the top of the space.
    private static readonly Gen<ulong> GenIova = Gen.Frequency(
        (12, Gen.Int[0, 40].Select(slot => (ulong)slot * Page)),
        (2, Gen.Int[0, 40].Select(slot => (ulong)slot * Page + 2048)),
        (1, Gen.Int[1, 4].Select(n => ulong.MaxValue - (ulong)n * Page + 1)),
        (1, Gen.Const(ulong.MaxValue)));

    private static readonly Gen<ulong> GenLength = Gen.Frequency(
        (12, Gen.Int[1, 5].Select(n => (ulong)n * Page)),
        (2, Gen.Const(2048UL)),
        (1, Gen.Const(0UL)),
        (1, Gen.Const(ulong.MaxValue)));

    // User memory: mostly the writable window, some read-only, some unmapped, some unaligned.
    private static readonly Gen<ulong> GenUser = Gen.Frequency(
        (10, Gen.Int[0, 44].Select(p => Layout.WritableBase + (ulong)p * Page)),
        (2, Gen.Int[0, 6].Select(p => Layout.ReadOnlyBase + (ulong)p * Page)),
        (1, Gen.Int[0, 8].Select(p => 0x40_0000 + (ulong)p * Page)),
        (1, Gen.Int[0, 44].Select(p => Layout.WritableBase + (ulong)p * Page + 2048)));

    private static readonly Gen<IoProt> GenProt = Gen.Frequency(
        (6, Gen.Const(IoProt.Read | IoProt.Write)),
        (3, Gen.Const(IoProt.Read)),
        (1, Gen.Const(IoProt.Write)),
        (1, Gen.Const(IoProt.None)));

    private static readonly Gen<int> GenIoas = Gen.Int[0, IoasCount - 1];

    [Fact]
    public void EngineAgreesWithNaiveModel()
    {
        var initial =
            from memlock in Gen.Frequency((3, Gen.Const(ulong.MaxValue)), (2, Gen.ULong[4, 40]))
            from fails in Gen.Int[0, 40].Array[3]
            select Create(memlock, fails);

        var map = Gen.Select(GenIoas, GenUser, GenLength, GenProt, Gen.Bool, GenIova)
            .Operation<EngineUnderTest, ModelWorld>(
                t => $"Map(ioas{t.Item1}, user=0x{t.Item2:x}, len=0x{t.Item3:x}, {t.Item4}, fixed={t.Item5}, iova=0x{t.Item6:x})",
                (e, t) => Step(e, () => e.Map(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6)),
                (m, t) => m.Map(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6));

        var unmap = Gen.Select(GenIoas, GenIova, GenLength)
            .Operation<EngineUnderTest, ModelWorld>(
                t => $"Unmap(ioas{t.Item1}, 0x{t.Item2:x}, 0x{t.Item3:x})",
                (e, t) => Step(e, () => e.Unmap(t.Item1, t.Item2, t.Item3)),
                (m, t) => m.Unmap(t.Item1, t.Item2, t.Item3));

        var unmapAll = GenIoas.Operation<EngineUnderTest, ModelWorld>(
            i => $"UnmapAll(ioas{i})",
            (e, i) => Step(e, () => e.Unmap(i, 0, ulong.MaxValue)),
            (m, i) => m.Unmap(i, 0, ulong.MaxValue));

        var copy = Gen.Select(GenIoas, GenIoas, GenIova, GenLength, GenProt, Gen.Bool, GenIova)
            .Operation<EngineUnderTest, ModelWorld>(
                t => $"Copy(ioas{t.Item2}@0x{t.Item3:x} -> ioas{t.Item1}, len=0x{t.Item4:x}, {t.Item5}, fixed={t.Item6}, dst=0x{t.Item7:x})",
                (e, t) => Step(e, () => e.Copy(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6, t.Item7)),
                (m, t) => m.Copy(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5, t.Item6, t.Item7));

        var genRange = Gen.Select(Gen.Int[0, 48], Gen.Int[0, 16]).Select(t => ((ulong)t.Item1 * Page, (ulong)(t.Item1 + t.Item2) * Page + Page - 1));
        var allow = Gen.Select(GenIoas, genRange.List[0, 3])
            .Operation<EngineUnderTest, ModelWorld>(
                t => $"Allow(ioas{t.Item1}, [{string.Join(", ", t.Item2.Select(r => $"0x{r.Item1:x}-0x{r.Item2:x}"))}])",
                (e, t) => Step(e, () => e.Allow(t.Item1, t.Item2)),
                (m, t) => m.Allow(t.Item1, t.Item2));

        var reserve = Gen.Select(GenIoas, genRange)
            .Operation<EngineUnderTest, ModelWorld>(
                t => $"Reserve(ioas{t.Item1}, 0x{t.Item2.Item1:x}-0x{t.Item2.Item2:x})",
                (e, t) => Step(e, () => e.Reserve(t.Item1, t.Item2.Item1, t.Item2.Item2)),
                (m, t) => m.Reserve(t.Item1, t.Item2.Item1, t.Item2.Item2));

        // Attach when free, detach when attached: the same toggle on both sides.
        var toggleDomain = Gen.Select(Gen.Int[0, 2], GenIoas)
            .Operation<EngineUnderTest, ModelWorld>(
                t => $"ToggleDomain(d{t.Item1}, ioas{t.Item2})",
                (e, t) => Step(e, () =>
                {
                    if (e.DomainAttachedTo[t.Item1] < 0) e.Attach(t.Item1, t.Item2);
                    else e.Detach(t.Item1);
                }),
                (m, t) =>
                {
                    if (m.DomainAttachedTo[t.Item1] < 0) m.Attach(t.Item1, t.Item2);
                    else m.Detach(t.Item1);
                });

        initial.SampleModelBased(
            [map, map, map, unmap, unmapAll, copy, copy, allow, reserve, toggleDomain, toggleDomain],
            equal: Agree,
            iter: 2000,
            threads: 1,
            printActual: Describe,
            printModel: Describe);

        var seen = string.Join(", ", s_errnos.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key}={kv.Value}"));
        TestContext.Current.SendDiagnosticMessage($"model test: {s_operations} operations, {s_succeeded} succeeded; errnos {seen}");
        // The sequences must exercise both success and every failure the generators aim at.
        Assert.True(s_succeeded * 4 >= s_operations, $"too few successful steps: {s_succeeded}/{s_operations}");
        foreach (var errno in new[] { Errno.EINVAL, Errno.ENOENT, Errno.EEXIST, Errno.EOVERFLOW, Errno.ENOMEM, Errno.EFAULT, Errno.EPERM, Errno.EADDRINUSE })
            Assert.True(s_errnos.ContainsKey(errno), $"no step ended in {errno}: {seen}");
        Assert.True(Interlocked.Read(ref s_operations) >= 10_000, $"only {s_operations} operations ran");
    }

    private static (EngineUnderTest, ModelWorld) Create(ulong memlockPages, int[] fails)
    {
        // d0 sees everything, d1 and d2 have apertures that cut into the low and high IOVA.
        var specs = new[]
        {
            new ModelDomainSpec(0, ulong.MaxValue, fails[0]),
            new ModelDomainSpec(0x4000, ulong.MaxValue, fails[1]),
            new ModelDomainSpec(0, 0x1F_FFFF, fails[2]),
        };
        return (new EngineUnderTest(IoasCount, specs, memlockPages, Layout), new ModelWorld(IoasCount, specs, memlockPages, Layout));
    }

    private static void Step(EngineUnderTest engine, Action action)
    {
        Interlocked.Increment(ref s_operations);
        action();
        if (engine.LastErrno == Errno.Ok)
            Interlocked.Increment(ref s_succeeded);
        else
            s_errnos.AddOrUpdate(engine.LastErrno, 1, (_, n) => n + 1);
    }

    private static bool Agree(EngineUnderTest engine, ModelWorld model)
    {
        if (engine.LastErrno != model.LastErrno || engine.LastValue != model.LastValue)
            return false;
        for (var i = 0; i < IoasCount; i++)
        {
            var table = engine.Table(i);
            var ioas = model.Ioases[i];
            var actual = table.Mappings().Select(m => (m.Iova.Start, m.Iova.Last, m.UserAddress, m.Prot)).ToList();
            var expected = ioas.Areas.OrderBy(a => a.Start).Select(a => (a.Start, a.Last, a.UserAddress, a.Prot)).ToList();
            if (!actual.SequenceEqual(expected))
                return false;
            if (!table.UsableRanges().SequenceEqual(ModelWorld.Usable(ioas)))
                return false;
            if (table.IovaAlignment != ioas.Alignment)
                return false;
            // Probe the software copy's translation at area edges and just outside them.
            foreach (var a in ioas.Areas)
                foreach (var probe in new[] { a.Start, a.Last, a.Start + a.Length / 2 })
                    if (table.Translate(probe, out _) != a.UserAddress + (probe - a.Start))
                        return false;
        }
        for (var d = 0; d < engine.Domains.Count; d++)
        {
            var domain = engine.Domains[d];
            var owner = model.DomainAttachedTo[d];
            if (engine.DomainAttachedTo[d] != owner || domain.MapCalls != model.DomainMapCalls[d])
                return false;
            var expected = owner < 0 ? [] : ExpandToPages(model.Ioases[owner]);
            if (domain.Pages.Count != expected.Count)
                return false;
            foreach (var (iova, entry) in expected)
                if (domain.Lookup(iova) != entry)
                    return false;
        }
        if (engine.Host.UserAccount.UsedPages != model.ChargedPages())
            return false;
        for (var p = 0UL; p < Layout.WritablePages; p++)
            if (engine.Memory.PinCount(Layout.WritableBase + p * Page) != model.PinCount((Layout.WritableBase >> 12) + p))
                return false;
        for (var p = 0UL; p < Layout.ReadOnlyPages; p++)
            if (engine.Memory.PinCount(Layout.ReadOnlyBase + p * Page) != model.PinCount((Layout.ReadOnlyBase >> 12) + p))
                return false;
        return true;
    }

    private static Dictionary<ulong, (ulong, IoProt)?> ExpandToPages(ModelIoas ioas)
    {
        var pages = new Dictionary<ulong, (ulong, IoProt)?>();
        foreach (var a in ioas.Areas)
            for (var off = 0UL; off < a.Length; off += Page)
                pages[a.Start + off] = (a.UserAddress + off, a.Prot);
        return pages;
    }

    private static string Describe(EngineUnderTest e) =>
        $"errno={e.LastErrno} value=0x{e.LastValue:x} " + string.Join(" | ", Enumerable.Range(0, IoasCount).Select(i =>
            $"ioas{i}: " + string.Join(", ", e.Table(i).Mappings().Select(m => $"{m.Iova}->0x{m.UserAddress:x}"))))
        + $" charged={e.Host.UserAccount.UsedPages} domains=[{string.Join(",", e.DomainAttachedTo)}]";

    private static string Describe(ModelWorld m) =>
        $"errno={m.LastErrno} value=0x{m.LastValue:x} " + string.Join(" | ", m.Ioases.Select((io, i) =>
            $"ioas{i}: " + string.Join(", ", io.Areas.OrderBy(a => a.Start).Select(a => $"[0x{a.Start:x}, 0x{a.Last:x}]->0x{a.UserAddress:x}"))))
        + $" charged={m.ChargedPages()} domains=[{string.Join(",", m.DomainAttachedTo)}]";
}
