using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>The self-test's mock bus: create a mock device, bind it and attach it in one step.</summary>
public sealed partial class IommufdContext
{
    /// <summary>
    /// MOCK_DOMAIN / MOCK_DOMAIN_FLAGS: a new mock device bound to this context and attached to
    /// <paramref name="ptId"/> (an IOAS or an HWPT). On any failure nothing is left behind.
    /// With <paramref name="publish"/> false the handle stays invisible until <see cref="FinishMockDevice"/>.
    /// </summary>
    public Errno CreateMockDevice(ObjectId ptId, MockDeviceFlags flags, out SelftestDevice selftest, out HwptId hwptId, bool publish = true)
    {
        selftest = null!;
        hwptId = default;
        if ((flags & ~MockDeviceFlags.Known) != 0)
            return Errno.EINVAL;
        var device = MockIommuDriver.Instance.CreateDevice(flags);
        var handle = new SelftestDevice(this, device);
        var rc = Objects.Reserve(handle);
        if (rc != Errno.Ok)
            return rc;
        rc = BindDevice(device, out var deviceId);
        if (rc != Errno.Ok)
        {
            Objects.Abort(handle);
            return rc;
        }
        Objects.AddUser(device);
        rc = AttachDevice(deviceId, ptId, out hwptId);
        if (rc != Errno.Ok)
        {
            Objects.RemoveUser(device);
            Objects.Destroy(deviceId);
            Objects.Abort(handle);
            return rc;
        }
        selftest = handle;
        if (publish)
            Objects.Publish(handle);
        return Errno.Ok;
    }

    /// <summary>Publishes a mock device handle once its IDs have reached the caller.</summary>
    public void FinishMockDevice(SelftestDevice selftest) => Objects.Publish(selftest);

    /// <summary>Takes back a mock device whose IDs could not be reported.</summary>
    public void AbortMockDevice(SelftestDevice selftest)
    {
        Objects.Abort(selftest);
        DetachDevice(selftest.Device.TypedId);
        Objects.RemoveUser(selftest.Device);
        Objects.Destroy(selftest.Device.Id);
    }
}
