using System.Runtime.InteropServices;
using IommuFd.Core.Devices;
using IommuFd.Core.Faults;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Dma;

/// <summary>
/// A bound device's side of DMA: it reads and writes IOVA space (optionally with a PASID) through
/// whatever the device is attached to right now — nothing (blocked), a paging domain, or a nested
/// one — using its IOMMU's IOTLB. A request moves bytes page by page and stops at the first
/// fault, reporting it precisely and sending it where the hardware would: to the HWPT's fault
/// queue as a page request when there is one and the device and IOMMU can make them, otherwise to
/// the device model as an error. Output addresses are the program's addresses, so DMA reaches
/// exactly the bytes an access (IOMMU_TEST_OP_ACCESS_RW) reaches.
/// </summary>
public sealed class DmaPort
{
    private readonly IommufdContext _context;
    private readonly DmaTranslator _translator;
    private readonly IUserMemory _memory;
    private int _nextGroup;

    /// <param name="pageRequests">Whether the IOMMU delivers page requests (PRI) for this device.</param>
    public DmaPort(IommufdContext context, Device device, Iotlb iotlb, IDmaDeviceModel model, bool pageRequests)
    {
        _context = context;
        _memory = context.Host.Memory;
        _translator = new DmaTranslator(iotlb, _memory);
        Device = device;
        Model = model;
        PageRequests = pageRequests;
    }

    public Device Device { get; }

    public IDmaDeviceModel Model { get; }

    public bool PageRequests { get; }

    public Iotlb Iotlb => _translator.Iotlb;

    /// <summary>Reads [iova, +destination.Length) into <paramref name="destination"/>.</summary>
    public DmaResult Read(ulong iova, Span<byte> destination, uint pasid = Iotlb.NoPasid) =>
        Transfer(iova, destination, pasid, DmaDirection.Read);

    /// <summary>Writes <paramref name="source"/> to [iova, +source.Length).</summary>
    public DmaResult Write(ulong iova, ReadOnlySpan<byte> source, uint pasid = Iotlb.NoPasid) =>
        // The span is only read from: one loop serves both directions.
        Transfer(iova, MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(source), source.Length), pasid, DmaDirection.Write);

    private DmaResult Transfer(ulong iova, Span<byte> buffer, uint pasid, DmaDirection direction)
    {
        // The attachment is read once per request, as a device's request sees one context entry.
        var hwpt = Device.Attached;
        var domain = hwpt?.AttachDomain;
        var need = direction == DmaDirection.Write ? IoProt.Write : IoProt.Read;
        var total = (ulong)buffer.Length;
        var done = 0UL;
        // Pages whose outputs follow each other are copied as one run: translation stays per page,
        // the copy does not. Bytes count as transferred once their run is copied, which always
        // happens before a fault further on is reported.
        var run = new Run(0, 0, 0);
        var iotlb = _translator.Iotlb;
        var cached = DmaTranslator.TryGetCacheTag(domain, pasid, out var tag);
        while (done < total)
        {
            var address = unchecked(iova + done);
            // The hit path, inline: one IOTLB probe per page; the translator handles misses.
            var entry = default(IotlbEntry);
            var hit = cached && iotlb.TryLookup(tag, pasid, address, out entry) && (direction == DmaDirection.Read || entry.Dirty);
            var reason = default(DmaFaultReason);
            var stage = 0;
            if (!hit && !_translator.Translate(domain, pasid, address, direction, lookedUp: cached, out entry, out reason, out stage))
                return Stop(hwpt, ref run, buffer, iova, direction, DmaFaultKind.Translation, reason, stage, address, pasid);
            if ((entry.Prot & need) == 0)
            {
                var refusedBy = (entry.StageTwoProt & need) == 0 ? 2 : 1;
                return Stop(hwpt, ref run, buffer, iova, direction, DmaFaultKind.Permission, DmaFaultReason.NoPermission, refusedBy, address, pasid);
            }
            var offset = address & (entry.Size - 1);
            var chunk = Math.Min(total - done, entry.Size - offset);
            var output = entry.OutputBase + offset;
            if (run.Length != 0 && output != run.Output + run.Length)
            {
                if (!Copy(ref run, buffer, direction))
                    return MemoryFault(hwpt, run, iova, pasid, direction);
                run = new Run(done, output, 0);
            }
            else if (run.Length == 0)
                run = new Run(done, output, 0);
            run.Length += chunk;
            done += chunk;
        }
        if (!Copy(ref run, buffer, direction))
            return MemoryFault(hwpt, run, iova, pasid, direction);
        return new DmaResult(done, null, DmaFaultRoute.None);
    }

    /// <summary>Bytes [Start, Start+Length) of the request, going to or from output addresses from <see cref="Output"/>.</summary>
    private record struct Run(ulong Start, ulong Output, ulong Length);

    private bool Copy(ref Run run, Span<byte> buffer, DmaDirection direction)
    {
        if (run.Length == 0)
            return true;
        var bytes = buffer.Slice((int)run.Start, (int)run.Length);
        var rc = direction == DmaDirection.Write ? _memory.Write(run.Output, bytes) : _memory.Read(run.Output, bytes);
        return rc == Errno.Ok;
    }

    /// <summary>Copies what came before the fault, then reports the fault after those bytes.</summary>
    private DmaResult Stop(Hwpt? hwpt, ref Run run, Span<byte> buffer, ulong iova, DmaDirection direction, DmaFaultKind kind, DmaFaultReason reason, int stage, ulong address, uint pasid)
    {
        if (!Copy(ref run, buffer, direction))
            return MemoryFault(hwpt, run, iova, pasid, direction);
        return Fault(hwpt, kind, reason, stage, address, pasid, direction, run.Start + run.Length);
    }

    /// <summary>A run's memory was unreachable: reported at the run's first byte, with only what came before it transferred.</summary>
    private DmaResult MemoryFault(Hwpt? hwpt, Run run, ulong requestIova, uint pasid, DmaDirection direction) =>
        Fault(hwpt, DmaFaultKind.Translation, DmaFaultReason.MemoryError, 0, unchecked(requestIova + run.Start), pasid, direction, run.Start);

    private DmaResult Fault(Hwpt? hwpt, DmaFaultKind kind, DmaFaultReason reason, int stage, ulong address, uint pasid, DmaDirection direction, ulong done)
    {
        var fault = new DmaFault(kind, reason, stage, address, pasid, direction, done);
        return new DmaResult(done, fault, Route(hwpt, fault));
    }

    /// <summary>To the fault queue when the HWPT has one, the fault is one a page request can fix, and PRI is on; else to the model.</summary>
    private DmaFaultRoute Route(Hwpt? hwpt, DmaFault fault)
    {
        if (hwpt?.Fault is not null && fault.Recoverable && PageRequests && Model.CanRequestPages)
        {
            var request = new PageRequest(
                PageRequestFlags.LastPage | (fault.Pasid != Iotlb.NoPasid ? PageRequestFlags.PasidValid : 0),
                fault.Pasid != Iotlb.NoPasid ? fault.Pasid : 0,
                // PCIe page request group indexes are 9 bits.
                (uint)(Interlocked.Increment(ref _nextGroup) & 0x1ff),
                fault.Direction == DmaDirection.Write ? PageRequestAccess.Write : PageRequestAccess.Read,
                CpuPage.AlignDown(fault.Iova));
            if (_context.ReportPageRequests(Device.TypedId, [request], code => Model.OnPageResponse(fault, code)) == Errno.Ok)
                return DmaFaultRoute.PageRequest;
        }
        Model.OnDmaError(fault);
        return DmaFaultRoute.DeviceModel;
    }
}
