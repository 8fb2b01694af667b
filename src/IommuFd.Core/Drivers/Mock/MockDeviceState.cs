namespace IommuFd.Core.Drivers.Mock;

/// <summary>What the mock driver keeps per device: its flags and the four cache tags a vIOMMU may invalidate.</summary>
public sealed class MockDeviceState(MockDeviceFlags flags)
{
    public const uint CacheDefault = 0xbaddad;
    public const int CacheCount = 4;

    public MockDeviceFlags Flags { get; } = flags;

    public uint[] Cache { get; } = [CacheDefault, CacheDefault, CacheDefault, CacheDefault];

    /// <summary>Set by a domain change of <see cref="MockIommuDriver.FaultyPasid"/>: the next one fails (ENOMEM).</summary>
    public bool PasidFaultArmed { get; set; }
}
