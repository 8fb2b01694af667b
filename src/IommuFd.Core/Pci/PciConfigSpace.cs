using System.Buffers.Binary;

namespace IommuFd.Core.Pci;

/// <summary>
/// The bytes of one function's configuration space with the hardware's write rules: per bit,
/// read-only (the default), read-write, or write-1-to-clear. A program's writes go through those
/// rules (<see cref="Write"/>); the device itself sets any bit (<see cref="Set16"/> and friends).
/// BAR sizing falls out of the same rule: a BAR's address bits below its size are read-only zero,
/// so writing all ones reads back the size mask. Not thread-safe: the owning function locks.
/// </summary>
public sealed class PciConfigSpace
{
    private readonly byte[] _bytes;
    private readonly byte[] _writable;
    private readonly byte[] _clearable;
    private byte[]? _powerOn;

    /// <summary>An all-zero, all-read-only space of <paramref name="size"/> bytes (256 or 4096).</summary>
    public PciConfigSpace(int size)
    {
        if (size is not (PciConfigRegisters.ConventionalSize or PciConfigRegisters.ExpressSize))
            throw new ArgumentOutOfRangeException(nameof(size), size, "config space is 256 or 4096 bytes");
        _bytes = new byte[size];
        _writable = new byte[size];
        _clearable = new byte[size];
    }

    /// <summary>Bytes of configuration space.</summary>
    public int Size => _bytes.Length;

    /// <summary>Copies [offset, +destination.Length) out; EINVAL when the range leaves the space.</summary>
    public Errno Read(int offset, Span<byte> destination)
    {
        if (!Inside(offset, destination.Length))
            return Errno.EINVAL;
        _bytes.AsSpan(offset, destination.Length).CopyTo(destination);
        return Errno.Ok;
    }

    /// <summary>
    /// A program's write: read-write bits take the new value, write-1-to-clear bits clear where a 1
    /// is written, read-only bits keep theirs. EINVAL when the range leaves the space.
    /// </summary>
    public Errno Write(int offset, ReadOnlySpan<byte> source)
    {
        if (!Inside(offset, source.Length))
            return Errno.EINVAL;
        for (var i = 0; i < source.Length; i++)
        {
            var at = offset + i;
            var value = (byte)((_bytes[at] & ~_writable[at]) | (source[i] & _writable[at]));
            _bytes[at] = (byte)(value & ~(source[i] & _clearable[at]));
        }
        return Errno.Ok;
    }

    /// <summary>Sets a register's value and its write rules: <paramref name="writable"/> bits read-write, <paramref name="clearable"/> bits write-1-to-clear.</summary>
    public void Define8(int offset, byte value, byte writable = 0, byte clearable = 0)
    {
        _bytes[offset] = value;
        _writable[offset] = writable;
        _clearable[offset] = clearable;
    }

    /// <summary>A 16-bit register (little-endian); see <see cref="Define8"/>.</summary>
    public void Define16(int offset, ushort value, ushort writable = 0, ushort clearable = 0)
    {
        BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(offset), value);
        BinaryPrimitives.WriteUInt16LittleEndian(_writable.AsSpan(offset), writable);
        BinaryPrimitives.WriteUInt16LittleEndian(_clearable.AsSpan(offset), clearable);
    }

    /// <summary>A 32-bit register (little-endian); see <see cref="Define8"/>.</summary>
    public void Define32(int offset, uint value, uint writable = 0, uint clearable = 0)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(_bytes.AsSpan(offset), value);
        BinaryPrimitives.WriteUInt32LittleEndian(_writable.AsSpan(offset), writable);
        BinaryPrimitives.WriteUInt32LittleEndian(_clearable.AsSpan(offset), clearable);
    }

    /// <summary>The byte at <paramref name="offset"/>.</summary>
    public byte Get8(int offset) => _bytes[offset];

    /// <summary>The 16-bit value at <paramref name="offset"/>.</summary>
    public ushort Get16(int offset) => BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(offset));

    /// <summary>The 32-bit value at <paramref name="offset"/>.</summary>
    public uint Get32(int offset) => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(offset));

    /// <summary>The device sets a 16-bit value, whatever the write rules (e.g. a status bit it raises).</summary>
    public void Set16(int offset, ushort value) => BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan(offset), value);

    /// <summary>Remembers the current contents as the power-on state <see cref="RestorePowerOn"/> returns to.</summary>
    public void CapturePowerOn() => _powerOn = (byte[])_bytes.Clone();

    /// <summary>Every byte back to the captured power-on state.</summary>
    public void RestorePowerOn()
    {
        if (_powerOn is null)
            throw new InvalidOperationException("no power-on state was captured");
        _powerOn.CopyTo(_bytes, 0);
    }

    private bool Inside(int offset, int length) =>
        offset >= 0 && length >= 0 && offset <= _bytes.Length - length;
}
