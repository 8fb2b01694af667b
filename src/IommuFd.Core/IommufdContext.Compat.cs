using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>
/// The IOAS that VFIO-compatibility calls act on (IOMMU_VFIO_IOAS), since VFIO's API carries no IDs;
/// and moving the context's accounting to another process.
/// </summary>
public sealed partial class IommufdContext
{
    private Ioas? _compatIoas;

    /// <summary>ENODEV when none is set or the one set has been destroyed.</summary>
    public Errno GetCompatIoas(out IoasId id)
    {
        id = default;
        lock (_optionLock)
        {
            if (_compatIoas is not { } ioas)
                return Errno.ENODEV;
            // Destroying the compatibility IOAS clears it: check it is still the object at that ID.
            using var held = Objects.Hold<Ioas>(ioas.Id);
            if (!held.Held || !ReferenceEquals(held.Value, ioas))
            {
                _compatIoas = null;
                return Errno.ENODEV;
            }
            id = ioas.TypedId;
            return Errno.Ok;
        }
    }

    public Errno SetCompatIoas(IoasId id)
    {
        using var ioas = Objects.Hold<Ioas>(id);
        if (!ioas.Held)
            return ioas.Status;
        lock (_optionLock)
            _compatIoas = ioas.Value;
        return Errno.Ok;
    }

    /// <summary>
    /// IOMMU_IOAS_CHANGE_PROCESS: moves pinned-memory accounting to the calling process. Only file
    /// mappings can move (EINVAL when any IOAS maps process memory). The memlock charge stays with
    /// the context's host: the kernel's per-process VmPin/VmLck figures are not ours to move.
    /// </summary>
    public Errno ChangeProcess()
    {
        foreach (var obj in Objects.Snapshot())
            if (obj is Ioas ioas && ioas.PageTable.MapsProcessMemory)
                return Errno.EINVAL;
        return Errno.Ok;
    }

    public void ClearCompatIoas()
    {
        lock (_optionLock)
            _compatIoas = null;
    }
}
