namespace IommuFd.Core.Drivers;

/// <summary>Driver entries already in managed memory (each entry its own byte array of one common length).</summary>
public sealed class ManagedDriverArray(uint type, IReadOnlyList<byte[]> entries) : IDriverArray
{
    public uint Type { get; } = type;

    public uint EntryLength => entries.Count == 0 ? 0 : (uint)entries[0].Length;

    public uint Count => (uint)entries.Count;

    public Errno CopyEntry(uint index, Span<byte> destination, int minimumLength)
    {
        var entry = entries[(int)index];
        if (entry.Length < minimumLength || entry.Length > destination.Length)
            return Errno.EINVAL;
        destination.Clear();
        entry.CopyTo(destination);
        return Errno.Ok;
    }
}
