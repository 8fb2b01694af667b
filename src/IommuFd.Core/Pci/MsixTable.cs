using System.Buffers.Binary;

namespace IommuFd.Core.Pci;

/// <summary>
/// An MSI-X table and pending bit array inside a BAR, as storage: entries hold what the program
/// writes (address, data, vector control; every vector starts masked, as the specification says),
/// and the PBA reads 0 because the device never leaves a message pending. Delivery does not read
/// them: under vfio-pci the host programs the real table and a VMM emulates its own, and which
/// vector fires is decided by VFIO_DEVICE_SET_IRQS. Accesses are 4 or 8 bytes, naturally aligned.
/// </summary>
public sealed class MsixTable
{
    private readonly byte[] _entries;

    /// <summary>A table of <paramref name="vectors"/> entries at BAR offset <paramref name="tableOffset"/>, PBA at <paramref name="pbaOffset"/>.</summary>
    public MsixTable(int vectors, int tableOffset, int pbaOffset)
    {
        Vectors = vectors;
        TableOffset = tableOffset;
        PbaOffset = pbaOffset;
        _entries = new byte[vectors * PciConfigRegisters.MsixEntrySize];
        Reset();
    }

    /// <summary>Entries in the table.</summary>
    public int Vectors { get; }

    /// <summary>BAR offset of the table.</summary>
    public int TableOffset { get; }

    /// <summary>BAR offset of the PBA.</summary>
    public int PbaOffset { get; }

    /// <summary>Bytes of the PBA: one bit per vector, in whole qwords.</summary>
    public int PbaSize => (Vectors + 63) / 64 * 8;

    /// <summary>Whether [offset, +length) lies in the table or the PBA.</summary>
    public bool Contains(ulong offset, int length) => Within(offset, length, TableOffset, _entries.Length) || Within(offset, length, PbaOffset, PbaSize);

    /// <summary>Reads the table or PBA; EINVAL for an access that is not 4 or 8 naturally aligned bytes.</summary>
    public Errno Read(ulong offset, Span<byte> destination)
    {
        if (!ValidWidth(offset, destination.Length))
            return Errno.EINVAL;
        if (Within(offset, destination.Length, TableOffset, _entries.Length))
            _entries.AsSpan((int)offset - TableOffset, destination.Length).CopyTo(destination);
        else
            destination.Clear();
        return Errno.Ok;
    }

    /// <summary>Writes the table (the PBA is read-only); EINVAL for an access that is not 4 or 8 naturally aligned bytes.</summary>
    public Errno Write(ulong offset, ReadOnlySpan<byte> source)
    {
        if (!ValidWidth(offset, source.Length))
            return Errno.EINVAL;
        if (Within(offset, source.Length, TableOffset, _entries.Length))
            source.CopyTo(_entries.AsSpan((int)offset - TableOffset));
        return Errno.Ok;
    }

    /// <summary>Whether the program masked <paramref name="vector"/> in its entry.</summary>
    public bool Masked(int vector) =>
        (BinaryPrimitives.ReadUInt32LittleEndian(_entries.AsSpan(vector * PciConfigRegisters.MsixEntrySize + PciConfigRegisters.MsixEntryVectorControl)) & 1) != 0;

    /// <summary>Every entry zero and masked.</summary>
    public void Reset()
    {
        Array.Clear(_entries);
        for (var v = 0; v < Vectors; v++)
            _entries[v * PciConfigRegisters.MsixEntrySize + PciConfigRegisters.MsixEntryVectorControl] = 1;
    }

    private static bool ValidWidth(ulong offset, int length) => length is 4 or 8 && offset % (ulong)length == 0;

    private static bool Within(ulong offset, int length, int start, int size) =>
        offset >= (ulong)start && offset - (ulong)start <= (ulong)(size - length) && length <= size;
}
