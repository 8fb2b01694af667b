using System.Buffers.Binary;
using R = IommuFd.Core.Pci.PciConfigRegisters;

namespace IommuFd.Core.Pci;

/// <summary>
/// A function's configuration space as vfio-pci's config region shows it: extended capabilities
/// vfio-pci does not expose are taken out of the chain. Today that is PASID: the kernel hides the
/// capability and reports PASID support through IOMMU_GET_HW_INFO (out_max_pasid_log2) instead,
/// so a VMM can place a virtual one where it likes. A hidden capability after another is skipped
/// by the previous header's next pointer; a hidden first one (at 0x100) keeps only its next
/// pointer; with nothing left to show, the dword at 0x100 reads 0. Header dwords the view rewrites
/// ignore writes; all other bytes are the device's own.
/// </summary>
public sealed class VfioConfigView
{
    private readonly PciConfigSpace _space;
    private readonly List<(int Offset, uint Value)> _overrides = [];

    /// <summary>The view of <paramref name="space"/>; its extended capability chain is read once (devices never change it).</summary>
    public VfioConfigView(PciConfigSpace space)
    {
        _space = space;
        if (space.Size > R.ConventionalSize)
            HideExtended();
    }

    /// <summary>Whether vfio-pci keeps extended capability <paramref name="id"/> out of the config region.</summary>
    public static bool IsHidden(ushort id) => id == R.ExtendedCapabilityIdPasid;

    /// <summary>Reads [offset, +destination.Length) of the view; EINVAL outside config space.</summary>
    public Errno Read(int offset, Span<byte> destination)
    {
        var rc = _space.Read(offset, destination);
        if (rc != Errno.Ok)
            return rc;
        Span<byte> dword = stackalloc byte[4];
        foreach (var (at, value) in _overrides)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(dword, value);
            for (var i = 0; i < 4; i++)
            {
                var index = at + i - offset;
                if ((uint)index < (uint)destination.Length)
                    destination[index] = dword[i];
            }
        }
        return Errno.Ok;
    }

    /// <summary>Writes through to the device except on the header dwords the view rewrites; EINVAL outside config space.</summary>
    public Errno Write(int offset, ReadOnlySpan<byte> source)
    {
        if (_overrides.Count == 0)
            return _space.Write(offset, source);
        if (offset < 0 || offset > _space.Size - source.Length)
            return Errno.EINVAL;
        for (var i = 0; i < source.Length; i++)
        {
            if (!Overridden(offset + i))
                _space.Write(offset + i, source.Slice(i, 1));
        }
        return Errno.Ok;
    }

    private bool Overridden(int offset)
    {
        foreach (var (at, _) in _overrides)
        {
            if (offset >= at && offset < at + 4)
                return true;
        }
        return false;
    }

    private void HideExtended()
    {
        var shown = 0;
        var previous = -1;
        var at = R.ExtendedStart;
        // Capabilities are dword aligned: the chain cannot be longer than this without a loop.
        for (var steps = 0; at >= R.ExtendedStart && steps < (_space.Size - R.ExtendedStart) / 4; steps++)
        {
            var header = Value(at);
            if (header == 0)
                break;
            var next = (int)(header >> 20) & 0xFFC;
            if (IsHidden((ushort)header))
            {
                if (previous >= 0)
                {
                    Set(previous, (Value(previous) & 0x000F_FFFF) | ((uint)next << 20));
                    at = next;
                    continue;
                }
                // The first capability anchors the chain: keep its next pointer, drop its ID and version.
                Set(at, header & 0xFFF0_0000);
            }
            else
            {
                shown++;
            }
            previous = at;
            at = next;
        }
        if (shown == 0)
            Set(R.ExtendedStart, 0);
    }

    private uint Value(int offset)
    {
        foreach (var (at, value) in _overrides)
        {
            if (at == offset)
                return value;
        }
        return _space.Get32(offset);
    }

    private void Set(int offset, uint value)
    {
        _overrides.RemoveAll(o => o.Offset == offset);
        _overrides.Add((offset, value));
    }
}
