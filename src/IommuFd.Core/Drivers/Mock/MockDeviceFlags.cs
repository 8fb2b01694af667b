namespace IommuFd.Core.Drivers.Mock;

/// <summary>Mock device flags (MOCK_FLAGS_DEVICE_*, the self-test's MOCK_DOMAIN_FLAGS dev_flags).</summary>
[Flags]
public enum MockDeviceFlags : uint
{
    None = 0,
    NoDirty = 1 << 0,
    Pasid = 1 << 2,

    Known = NoDirty | Pasid,
}
