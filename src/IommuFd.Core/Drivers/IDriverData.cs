namespace IommuFd.Core.Drivers;

/// <summary>
/// Driver-specific input (e.g. IOMMU_HWPT_ALLOC's data_type/data_len/data_uptr), read only when
/// the driver asks, so validation happens in the kernel's order and a bad pointer costs nothing early.
/// </summary>
public interface IDriverData
{
    uint Type { get; }

    uint Length { get; }

    /// <summary>Copies the data into <paramref name="destination"/> (at most its length): EFAULT when unreadable.</summary>
    Errno CopyTo(Span<byte> destination);

    /// <summary>
    /// Answers in place: writes <paramref name="source"/> over the data's first bytes (at most its
    /// length); EFAULT when unwritable. Data that cannot be answered (the default) is unwritable.
    /// </summary>
    Errno CopyFrom(ReadOnlySpan<byte> source) => Errno.EFAULT;
}

/// <summary>Driver data already in managed memory.</summary>
public sealed class ManagedDriverData(uint type, byte[] bytes) : IDriverData
{
    public uint Type { get; } = type;

    public uint Length => (uint)bytes.Length;

    public Errno CopyTo(Span<byte> destination)
    {
        bytes.AsSpan(0, Math.Min(bytes.Length, destination.Length)).CopyTo(destination);
        return Errno.Ok;
    }

    public Errno CopyFrom(ReadOnlySpan<byte> source)
    {
        source[..Math.Min(bytes.Length, source.Length)].CopyTo(bytes);
        return Errno.Ok;
    }

    /// <summary>The bytes as they are now (after a driver answered in place).</summary>
    public ReadOnlySpan<byte> Bytes => bytes;
}
