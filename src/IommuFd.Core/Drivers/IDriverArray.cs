namespace IommuFd.Core.Drivers;

/// <summary>
/// An array of driver-specific entries (IOMMU_HWPT_INVALIDATE's data_type, entry_len, entry_num
/// and data_uptr), read one entry at a time when the driver asks, so a bad entry stops there.
/// </summary>
public interface IDriverArray
{
    uint Type { get; }

    uint EntryLength { get; }

    uint Count { get; }

    /// <summary>
    /// Copies entry <paramref name="index"/> into <paramref name="destination"/> (the driver's
    /// struct): an entry length below <paramref name="minimumLength"/> or above the struct is
    /// EINVAL, a shorter entry is zero-filled, an unreadable entry is EFAULT.
    /// </summary>
    Errno CopyEntry(uint index, Span<byte> destination, int minimumLength);
}
