using System.Diagnostics;
using System.Globalization;
using IommuFd.Core;
using IommuFd.Core.Dirty;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;

namespace IommuFd.Benchmarks;

/// <summary>
/// GET_DIRTY_BITMAP over 1 GiB of 4 KiB pages with 10% of them dirty: nanoseconds per page read
/// (and cleared) and bytes allocated per call, against a baseline measured in the same run: a plain
/// loop over as many 8-byte entries that tests and clears the same bit and sets the bitmap bit,
/// the least any implementation keeping dirty state in PTEs has to do. Plain Stopwatch loops,
/// medians; the re-marking between calls is not timed.
/// </summary>
public static class DirtyBitmapCosts
{
    private const ulong GiB = 1UL << 30;
    private const ulong Page = 4096;
    private const ulong Iova = 0x40_0000_0000;
    private const ulong User = 0x7f00_0000_0000;
    private const ulong Bitmap = 0x1000_0000;
    private const int DirtyEvery = 10;

    public static void RunTable(TextWriter output, int repeats)
    {
        const int pages = (int)(GiB / Page);
        var memory = new SimulatedUserMemory();
        memory.Map(Bitmap, GiB / Page / 8);
        var domain = new MockDomain(MockPageTableType.AmdV1, canTrackDirty: true);
        Check(domain.Map(Iova, User, GiB, IoProt.Read | IoProt.Write, largestPage: Page), "map");
        Check(domain.SetDirtyTracking(true), "enable");

        var clear = new DirtyBitmapRequest(Iova, GiB, Page, Bitmap);
        var keep = clear with { KeepDirty = true };
        var readClear = Measure(repeats, () => MarkTenPercent(domain), () => Check(DirtyBitmapWriter.Run(memory, domain, clear), "read"));
        MarkTenPercent(domain);
        var readKeep = Measure(repeats, () => { }, () => Check(DirtyBitmapWriter.Run(memory, domain, keep), "read"));
        var reported = CountBits(memory, pages);

        var entries = new ulong[pages];
        var bits = new byte[pages / 8];
        var baseline = Measure(repeats, () => MarkTenPercent(entries), () => PlainLoop(entries, bits));

        output.WriteLine($"## GET_DIRTY_BITMAP, 1 GiB of 4 KiB pages ({pages:N0}), {100 / DirtyEvery}% dirty ({reported:N0} bits reported), median of {repeats}");
        output.WriteLine();
        output.WriteLine("| what | ns/page | ratio to baseline | bytes allocated per call |");
        output.WriteLine("|---|---:|---:|---:|");
        Row(output, "baseline: plain loop over 8-byte entries (test, clear, set bit)", baseline, baseline, pages);
        Row(output, "GET_DIRTY_BITMAP read and clear (engine, mock AMD v1 domain)", readClear, baseline, pages);
        Row(output, "GET_DIRTY_BITMAP with NO_CLEAR", readKeep, baseline, pages);
    }

    private readonly record struct Sample(double Ms, long Bytes);

    private static Sample Measure(int repeats, Action prepare, Action run)
    {
        // Warm-up past tiered compilation (30 calls, then a background tier-1 compile), the pool and first touches.
        for (var i = 0; i < 40; i++)
        {
            prepare();
            run();
        }
        Thread.Sleep(200);
        var times = new double[repeats];
        var bytes = new long[repeats];
        for (var i = 0; i < repeats; i++)
        {
            prepare();
            var before = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            run();
            times[i] = watch.Elapsed.TotalMilliseconds;
            bytes[i] = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        Array.Sort(times);
        Array.Sort(bytes);
        return new Sample(times[repeats / 2], bytes[repeats / 2]);
    }

    private static void Row(TextWriter output, string what, Sample sample, Sample baseline, int pages)
    {
        var ns = sample.Ms * 1e6 / pages;
        var ratio = sample.Ms / baseline.Ms;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {what} | {ns:F2} | {ratio:F2}x | {sample.Bytes:N0} |"));
    }

    private static void MarkTenPercent(MockDomain domain)
    {
        for (var iova = Iova; iova < Iova + GiB; iova += DirtyEvery * Page)
            domain.RecordWrite(iova);
    }

    private static void MarkTenPercent(ulong[] entries)
    {
        for (var i = 0; i < entries.Length; i += DirtyEvery)
            entries[i] |= 1UL << 6;
    }

    private static void PlainLoop(ulong[] entries, byte[] bits)
    {
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if ((e & (1UL << 6)) == 0)
                continue;
            entries[i] = e & ~(1UL << 6);
            bits[i >> 3] |= (byte)(1 << (i & 7));
        }
    }

    private static long CountBits(IUserMemory memory, int pages)
    {
        var bytes = new byte[pages / 8];
        Check(memory.Read(Bitmap, bytes), "read bitmap");
        return bytes.Sum(b => (long)System.Numerics.BitOperations.PopCount(b));
    }

    private static void Check(Errno rc, string what)
    {
        if (rc != Errno.Ok)
            throw new InvalidOperationException($"{what}: {rc}");
    }
}
