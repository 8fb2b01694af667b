using System.Diagnostics;
using System.Globalization;
using IommuFd.Core;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Faults;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.VirtualIommu;

namespace IommuFd.Benchmarks;

/// <summary>What <see cref="VeventqCosts"/> measures.</summary>
public sealed record VeventqCostOptions(TimeSpan BudgetPerFigure, int Rounds)
{
    public static VeventqCostOptions Default { get; } = new(TimeSpan.FromMilliseconds(300), 3);
}

/// <summary>
/// vEVENTQ delivery, without BenchmarkDotNet: events per second from the self-test's TRIGGER_VEVENT
/// (a vIOMMU event about a device attached through its vDEVICE) to a read of whole records into
/// user memory, in batches of 1 and 64 events per read. The baseline, timed in the same run with
/// the same batches, is the fault queue's page-request path: a device's page request reported to
/// its HWPT's queue and handed out as a 48-byte record. Best of <see cref="VeventqCostOptions.Rounds"/>.
/// </summary>
public static class VeventqCosts
{
    private const ulong Buffer = 0x40_0000;
    private const int FaultRecordSize = 48;
    private static readonly int[] Batches = [1, 64];

    public static void RunTable(TextWriter output, VeventqCostOptions options)
    {
        output.WriteLine("| batch | fault queue (baseline) events/s | vEVENTQ events/s | ratio vEVENTQ / baseline |");
        output.WriteLine("|---:|---:|---:|---:|");
        foreach (var batch in Batches)
        {
            var baseline = Best(options, () => FaultQueueRate(batch, options.BudgetPerFigure));
            var figure = Best(options, () => VeventqRate(batch, options.BudgetPerFigure));
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {batch} | {baseline:N0} | {figure:N0} | {figure / baseline:F2} |"));
        }
    }

    private static double Best(VeventqCostOptions options, Func<double> measure)
    {
        var best = 0.0;
        for (var i = 0; i < options.Rounds; i++)
            best = Math.Max(best, measure());
        return best;
    }

    /// <summary>A context with a mock device attached to a nested HWPT of a vIOMMU through its vDEVICE.</summary>
    private static (IommufdContext Context, SimulatedUserMemory Memory, DeviceId Device, Veventq Queue) VeventqRig(int depth)
    {
        var memory = new SimulatedUserMemory();
        memory.Map(Buffer, CpuPage.Size * 4);
        var context = new IommufdContext(new IommuHost(memory, ulong.MaxValue));
        context.CreateIoas(out var ioas).ThrowIfError("ioas");
        context.CreateMockDevice(ioas, MockDeviceFlags.None, out var selftest, out _).ThrowIfError("mock");
        var device = selftest.Device.TypedId;
        context.AllocHwpt(device, ioas, HwptAllocFlags.NestParent, null, out var parent).ThrowIfError("parent");
        context.AllocViommu(device, parent, MockViommuDriver.TypeSelftest, null, out var viommu).ThrowIfError("viommu");
        context.AllocHwpt(device, viommu!.Id, 0, new ManagedDriverData(MockIommuDriver.HwptDataSelftest, new byte[8]), out var nested).ThrowIfError("nested");
        context.AllocVdevice(viommu.Id, device, 0x99, out _).ThrowIfError("vdevice");
        context.ReplaceMockDevice(selftest.Id, nested, out _).ThrowIfError("attach");
        using var pending = context.BeginAllocVeventq(viommu.Id, MockViommuDriver.VeventqTypeSelftest, (uint)depth, new SimulatedObjectFiles(), q => q, out _);
        return (context, memory, device, pending.Publish());
    }

    private static double VeventqRate(int batch, TimeSpan budget)
    {
        var (context, memory, device, queue) = VeventqRig(batch);
        using var _ = context;
        var length = (ulong)(batch * (Veventq.HeaderSize + 4));
        long events = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < budget)
        {
            for (var i = 0; i < batch; i++)
                context.TriggerMockVevent(device);
            queue.Read(memory, Buffer, length, out var done);
            if (done != length)
                throw new InvalidOperationException($"read {done} of {length} bytes");
            events += batch;
        }
        return events / clock.Elapsed.TotalSeconds;
    }

    private static double FaultQueueRate(int batch, TimeSpan budget)
    {
        var memory = new SimulatedUserMemory();
        memory.Map(Buffer, CpuPage.Size * 4);
        using var context = new IommufdContext(new IommuHost(memory, ulong.MaxValue));
        context.CreateIoas(out var ioas).ThrowIfError("ioas");
        context.CreateFaultQueue(out var queue).ThrowIfError("queue");
        var device = MockIommuDriver.Instance.CreateDevice(MockDeviceFlags.None);
        context.BindDevice(device, out var deviceId).ThrowIfError("bind");
        context.AllocHwpt(deviceId, ioas, HwptAllocFlags.FaultIdValid, null, out var hwpt, queue.TypedId).ThrowIfError("hwpt");
        context.AttachDevice(deviceId, hwpt, out _).ThrowIfError("attach");
        PageRequest[] request = [new(PageRequestFlags.LastPage, 0, 1, PageRequestAccess.Read, 0x4000)];
        var record = new byte[FaultRecordSize];
        var cookies = new List<uint>(batch);
        long events = 0;
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < budget)
        {
            for (var i = 0; i < batch; i++)
                context.ReportPageRequests(deviceId, request);
            var at = Buffer;
            cookies.Clear();
            var delivered = queue.Deliver(batch, group =>
            {
                record[0] = (byte)group.Cookie;
                memory.Write(at, record);
                at += FaultRecordSize;
                cookies.Add(group.Cookie);
                return true;
            });
            if (delivered != batch)
                throw new InvalidOperationException($"delivered {delivered} of {batch}");
            // Answer what was read, as a user of the fault queue must, so groups do not pile up.
            foreach (var cookie in cookies)
                queue.Respond(cookie, PageResponseCode.Success);
            events += delivered;
        }
        return events / clock.Elapsed.TotalSeconds;
    }
}
