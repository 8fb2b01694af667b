using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>The IOAS that VFIO-compatibility calls act on (IOMMU_VFIO_IOAS), since VFIO's API carries no IDs.</summary>
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
            var alive = Objects.TryHold<Ioas>(ioas.Id, out var held) == Errno.Ok;
            if (alive)
                Objects.Release(held);
            if (!alive || !ReferenceEquals(held, ioas))
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
        var rc = Objects.TryHold<Ioas>(id, out var ioas);
        if (rc != Errno.Ok)
            return rc;
        lock (_optionLock)
            _compatIoas = ioas;
        Objects.Release(ioas);
        return Errno.Ok;
    }

    public void ClearCompatIoas()
    {
        lock (_optionLock)
            _compatIoas = null;
    }
}
