using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using IommuFd.Core;
using IommuFd.Core.Dma;
using IommuFd.Core.Machines;
using IommuFd.Core.Objects;
using IommuFd.Core.Pci;
using Reg = IommuFd.Core.Pci.DmaTestRegisters;

namespace IommuFd.Benchmarks;

/// <summary>What <see cref="VfioDmaCosts"/> measures.</summary>
public sealed record VfioDmaCostOptions(TimeSpan BudgetPerFigure, int Rounds)
{
    // Many short rounds, medians: on a shared machine a short round is often not preempted.
    public static VfioDmaCostOptions Default { get; } = new(TimeSpan.FromMilliseconds(400), 21);
}

/// <summary>
/// The DMA test device as a VMM drives it, plain Stopwatch loops printed as markdown: a copy rung
/// by a DOORBELL write on BAR0 of dma0 of an intel-vtd machine, through its connected DMA port
/// (IOTLB, VT-d page walk, program memory), for 64 KiB and 2 MiB, with 4 KiB and 2 MiB leaves,
/// against a managed memcpy (Span.CopyTo) of the same size between the same buffers in the same
/// run, in GiB/s with the ratio. Then doorbell-to-interrupt latency: ns from the DOORBELL write
/// of an 8-byte fill to the sink's Raise(MSI-X 0), against the port's bare 8-byte write.
/// </summary>
public static class VfioDmaCosts
{
    private const ulong UserBase = 0x4000_0000;
    private const ulong Iova = 0x4000_0000;
    private const ulong Window = 8UL << 20;

    public static void RunTable(TextWriter output, VfioDmaCostOptions options)
    {
        output.WriteLine("### DMA test device copy (doorbell to done) vs memcpy (GiB/s, medians)");
        output.WriteLine();
        output.WriteLine("| transfer | leaves | memcpy | device copy | ratio |");
        output.WriteLine("|---:|---|---:|---:|---:|");
        foreach (var hugePages in new[] { false, true })
            foreach (var length in new[] { 64 << 10, 2 << 20 })
            {
                using var rig = new Rig(hugePages);
                var (baseline, figure) = rig.MeasureCopy(options, length);
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {(length >= 1 << 20 ? $"{length >> 20} MiB" : $"{length >> 10} KiB")} | {(hugePages ? "2 MiB" : "4 KiB")} | {F(baseline)} | {F(figure)} | {F(figure / baseline)} |"));
            }
        output.WriteLine();
        output.WriteLine("### Doorbell to interrupt (ns, medians)");
        output.WriteLine();
        output.WriteLine("| case | port write of 8 bytes (baseline) | doorbell → Raise(MSI-X 0), 8-byte fill | ratio |");
        output.WriteLine("|---|---:|---:|---:|");
        using (var rig = new Rig(hugePages: true))
        {
            var (baseline, figure) = rig.MeasureLatency(options);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| warm IOTLB | {F(baseline)} | {F(figure)} | {F(figure / baseline)} |"));
        }
    }

    /// <summary>dma0 of intel-vtd bound, attached to an IOAS mapping an 8 MiB native block, its function connected, bus mastering on.</summary>
    private sealed class Rig : IDisposable, IPciInterruptSink
    {
        private readonly FlatUserMemory _memory = new(UserBase, Window);
        private readonly IommufdContext _context;
        private readonly DmaTestFunction _function;
        private readonly DmaPort _port;
        private readonly byte[] _register = new byte[8];
        private long _raisedAt;
        private long _raises;

        public Rig(bool hugePages)
        {
            _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
            var dma0 = new Machine(MachinePresets.IntelVtd).Device("dma0");
            var device = dma0.CreateDevice();
            Check(_context.BindDevice(device, out var id), "bind");
            Check(_context.CreateIoas(out var ioas), "ioas");
            Check(_context.SetHugePages(ioas, hugePages), "huge pages");
            Check(_context.AttachDevice(id, ioas, out _), "attach");
            var iova = Iova;
            Check(_context.Map(ioas, UserBase, Window, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova), "map");
            _function = (DmaTestFunction)dma0.CreatePciFunction();
            _port = dma0.Iommu.OpenDma(_context, device, _function.DmaModel);
            _function.ConnectDma(_port);
            _function.ConnectInterrupts(this);
            Check(_function.WriteConfig(PciConfigRegisters.Command, [(byte)(PciConfigRegisters.CommandMemory | PciConfigRegisters.CommandBusMaster), 0]), "command");
            Random.Shared.NextBytes(_memory.Bytes(UserBase, (int)Window));
        }

        public void Raise(PciInterruptKind kind, int vector)
        {
            if (kind == PciInterruptKind.Msix)
            {
                _raisedAt = Stopwatch.GetTimestamp();
                _raises++;
            }
        }

        /// <summary>GiB/s of memcpy and of the device's copy, SRC in the first 4 MiB, DST in the second.</summary>
        public (double Memcpy, double Device) MeasureCopy(VfioDmaCostOptions options, int length)
        {
            const ulong half = Window / 2;
            Write(Reg.Src, Iova);
            Write(Reg.Dst, Iova + half);
            Write(Reg.Len, (ulong)length);
            var source = _memory.Bytes(UserBase, length);
            var target = _memory.Bytes(UserBase + half, length);
            var batch = Math.Max(1, (1 << 22) / length);
            var (device, baseline) = MedianPair(options, batch, n =>
            {
                for (var i = 0; i < n; i++)
                    Write(Reg.Doorbell, Reg.DoorbellCopy);
            }, n =>
            {
                for (var i = 0; i < n; i++)
                    _memory.Bytes(UserBase, length).CopyTo(_memory.Bytes(UserBase + half, length));
            });
            if (Read(Reg.Status) != (ulong)DmaTestStatus.Done || !source.SequenceEqual(target))
                throw new InvalidOperationException($"the device copy did not complete: status {Read(Reg.Status)}, reason {Read(Reg.FaultReason)}");
            return (GiBps(length, baseline), GiBps(length, device));
        }

        /// <summary>ns of a bare 8-byte port write, and of a DOORBELL write of an 8-byte fill until the sink hears MSI-X 0.</summary>
        public (double Baseline, double Latency) MeasureLatency(VfioDmaCostOptions options)
        {
            Write(Reg.Dst, Iova);
            Write(Reg.Len, 8);
            Write(Reg.Pattern, 0x0123_4567_89AB_CDEF);
            var eight = new byte[8];
            var samples = new double[options.Rounds];
            var baselines = new double[options.Rounds];
            var slice = options.BudgetPerFigure / options.Rounds / 2;
            for (var r = 0; r < options.Rounds; r++)
            {
                baselines[r] = Time(slice, 256, n =>
                {
                    for (var i = 0; i < n; i++)
                        _port.Write(Iova, eight);
                });
                // Each sample is one doorbell: the interrupt's timestamp minus the write's start.
                var total = 0.0;
                var count = 0;
                var clock = Stopwatch.StartNew();
                while (clock.Elapsed < slice)
                {
                    var before = _raises;
                    var start = Stopwatch.GetTimestamp();
                    Write(Reg.Doorbell, Reg.DoorbellFill);
                    if (_raises != before + 1)
                        throw new InvalidOperationException("the doorbell raised no interrupt");
                    total += Stopwatch.GetElapsedTime(start, _raisedAt).TotalNanoseconds;
                    count++;
                }
                samples[r] = total / count;
            }
            Array.Sort(samples);
            Array.Sort(baselines);
            return (baselines[options.Rounds / 2], samples[options.Rounds / 2]);
        }

        private void Write(int register, ulong value)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(_register, value);
            Check(_function.WriteBar(0, (ulong)register, _register), "bar write");
        }

        private ulong Read(int register)
        {
            Check(_function.ReadBar(0, (ulong)register, _register), "bar read");
            return BinaryPrimitives.ReadUInt64LittleEndian(_register);
        }

        public void Dispose()
        {
            _context.Dispose();
            _memory.Dispose();
        }
    }

    /// <summary>Two loops timed in alternation, round after round, so a load change hits both alike; each one's median ns per operation.</summary>
    private static (double A, double B) MedianPair(VfioDmaCostOptions options, int batch, Action<int> a, Action<int> b)
    {
        var slice = options.BudgetPerFigure / options.Rounds / 2;
        a(batch);
        b(batch);
        var sa = new double[options.Rounds];
        var sb = new double[options.Rounds];
        for (var r = 0; r < options.Rounds; r++)
        {
            sa[r] = Time(slice, batch, a);
            sb[r] = Time(slice, batch, b);
        }
        Array.Sort(sa);
        Array.Sort(sb);
        return (sa[options.Rounds / 2], sb[options.Rounds / 2]);
    }

    private static double Time(TimeSpan slice, int batch, Action<int> run)
    {
        var ops = 0L;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < slice)
        {
            run(batch);
            ops += batch;
        }
        return clock.Elapsed.TotalNanoseconds / ops;
    }

    private static double GiBps(int length, double nsPerCopy) => length / nsPerCopy * 1e9 / (1UL << 30);

    private static string F(double value) => value.ToString(value >= 100 ? "0" : "0.00", CultureInfo.InvariantCulture);

    private static void Check(Errno rc, string what)
    {
        if (rc != Errno.Ok)
            throw new InvalidOperationException($"{what}: {rc}");
    }
}
