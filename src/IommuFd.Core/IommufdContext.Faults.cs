using IommuFd.Core.Devices;
using IommuFd.Core.Faults;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>Fault queues and the page requests devices raise into them.</summary>
public sealed partial class IommufdContext
{
    /// <summary>A new fault queue with no fd, published at once (for embedders that read it directly).</summary>
    public Errno CreateFaultQueue(out FaultQueue fault) => Objects.Reserve(new FaultQueue()).PublishNow(out fault);

    /// <summary>
    /// IOMMU_FAULT_QUEUE_ALLOC, pending until published: a new queue and a descriptor in
    /// <paramref name="files"/> naming it (<paramref name="fileFor"/> makes what the fd reads and
    /// writes). The fd uses the queue, so DESTROY is EBUSY until it is closed; it polls readable
    /// while groups wait. Aborting closes the fd the caller never learnt of.
    /// </summary>
    public PendingObject<FaultQueue> BeginCreateFaultQueue(IObjectFiles files, Func<FaultQueue, object> fileFor, out int fd)
    {
        fd = -1;
        var pending = Objects.Reserve(new FaultQueue());
        if (!pending.Reserved)
            return pending;
        var fault = pending.Value;
        var file = fileFor(fault);
        Objects.AddUser(fault);
        fault.ReadableChanged = readable => files.SetReadable(file, readable);
        var rc = files.OpenFile(file, () => Objects.RemoveUser(fault), out fd);
        if (rc == Errno.Ok)
        {
            fault.File = (files, fd);
            return pending;
        }
        Objects.RemoveUser(fault);
        pending.Dispose();
        return new PendingObject<FaultQueue>(rc);
    }

    /// <summary>
    /// A device raises a group of page requests (what a PRI-capable device does on an I/O page
    /// fault). They go to the fault queue of the HWPT the device is attached to; with none (not
    /// attached, or no queue) they are answered Invalid at once, as the IOMMU core would.
    /// ENOENT for an unknown device.
    /// </summary>
    public Errno ReportPageRequests(DeviceId deviceId, IReadOnlyList<PageRequest> requests, Action<PageResponseCode>? onResponse = null)
    {
        if (requests.Count == 0)
            return Errno.EINVAL;
        using (var device = Objects.Hold<Device>(deviceId))
        {
            if (!device.Held)
                return device.Status;
            // Under the attach lock, so the group cannot be queued for an HWPT the device just left.
            lock (_attachLock)
            {
                if (HwptForRequestLocked(device.Value, requests[0]) is { Fault: { } fault } hwpt)
                {
                    fault.Report(deviceId, hwpt, requests, onResponse);
                    return Errno.Ok;
                }
            }
        }
        onResponse?.Invoke(PageResponseCode.Invalid);
        return Errno.Ok;
    }
}
