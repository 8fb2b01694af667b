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
    /// IOMMU_IOAS_CHANGE_PROCESS: the pinned pages of every IOAS are charged to
    /// <paramref name="caller"/> (the process making the call; the context's own when null) and no
    /// longer to the process that pinned them: its pinned-page count, and its memory-lock account in
    /// process mode or the user's in user mode. Only file mappings can move (EINVAL when any IOAS
    /// maps process memory, before anything moves). The new owner is charged before the old is
    /// relieved, so a charge past its limit is ENOMEM and every move made so far is undone.
    /// </summary>
    public Errno ChangeProcess(IommuHost? caller = null)
    {
        var target = caller ?? Host;
        var ioases = Objects.Snapshot().OfType<Ioas>().ToList();
        foreach (var ioas in ioases)
            if (ioas.PageTable.MapsProcessMemory)
                return Errno.EINVAL;
        // COPY shares pages between areas and IOASes: each is moved once.
        var pages = new HashSet<Pages.UserPages>(ReferenceEqualityComparer.Instance);
        foreach (var ioas in ioases)
            ioas.PageTable.CollectPages(pages);
        var moved = new List<(Pages.UserPages Pages, Pages.PinCharge From)>();
        foreach (var p in pages)
        {
            var from = p.Account;
            if (from.Owner == target)
                continue;
            var rc = p.MoveCharge(new Pages.PinCharge(target, from.Mode));
            if (rc != Errno.Ok)
            {
                for (var i = moved.Count - 1; i >= 0; i--)
                    moved[i].Pages.MoveCharge(moved[i].From, force: true);
                return rc;
            }
            moved.Add((p, from));
        }
        return Errno.Ok;
    }

    public void ClearCompatIoas()
    {
        lock (_optionLock)
            _compatIoas = null;
    }
}
