using IommuFd.Core.Devices;
using IommuFd.Core.Faults;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>Fault queues and the page requests devices raise into them.</summary>
public sealed partial class IommufdContext
{
    /// <summary>
    /// IOMMU_FAULT_QUEUE_ALLOC: a new queue, its ID reserved but invisible until
    /// <see cref="FinishFaultQueue"/> (the caller first opens its fd and reports both).
    /// </summary>
    public Errno CreateFaultQueue(out FaultQueue fault)
    {
        fault = new FaultQueue();
        return Objects.Reserve(fault);
    }

    public void FinishFaultQueue(FaultQueue fault) => Objects.Publish(fault);

    public void AbortFaultQueue(FaultQueue fault)
    {
        Objects.Abort(fault);
        fault.OnDestroy();
    }

    /// <summary>An fd naming the queue holds it: DESTROY is EBUSY until the fd is closed.</summary>
    public void HoldFaultQueueForFile(FaultQueue fault) => Objects.AddUser(fault);

    public void ReleaseFaultQueueFromFile(FaultQueue fault) => Objects.RemoveUser(fault);

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
        var rc = Objects.Hold(deviceId, out ObjectHold<Device> deviceHold);
        if (rc != Errno.Ok)
            return rc;
        using (deviceHold)
        {
            // Under the attach lock, so the group cannot be queued for an HWPT the device just left.
            lock (_attachLock)
            {
                if (deviceHold.Value.Attached is { Fault: { } fault } hwpt)
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
