using IommuFd.Core.Objects;

namespace IommuFd.Core.Faults;

/// <summary>
/// Page requests a device raised together (one PRI group): delivered whole, answered once by the
/// cookie user space got with them. The device learns the answer through its callback.
/// </summary>
public sealed class FaultGroup
{
    private readonly Action<PageResponseCode>? _onResponse;
    private int _answered;

    internal FaultGroup(DeviceId device, Hwpt hwpt, IReadOnlyList<PageRequest> requests, Action<PageResponseCode>? onResponse)
    {
        Device = device;
        Hwpt = hwpt;
        Requests = requests;
        _onResponse = onResponse;
    }

    /// <summary>The device that raised the requests (reported as dev_id).</summary>
    public DeviceId Device { get; }

    /// <summary>The HWPT the device was attached to when it raised them.</summary>
    public Hwpt Hwpt { get; }

    public IReadOnlyList<PageRequest> Requests { get; }

    /// <summary>Set while user space has read the group and not answered it (never 0).</summary>
    public uint Cookie { get; internal set; }

    /// <summary>Tells the device once; later answers (e.g. a detach racing a response) are ignored.</summary>
    internal void Answer(PageResponseCode code)
    {
        if (Interlocked.Exchange(ref _answered, 1) == 0)
            _onResponse?.Invoke(code);
    }
}
