namespace IommuFd.Core.Objects;

/// <summary>
/// Something a context holds by ID. Long-term <see cref="Users"/> (another object depending on
/// this one, e.g. an HWPT on its IOAS) make DESTROY fail with EBUSY; short-term holds (a call in
/// flight, an <see cref="ObjectHold{T}"/>) only delay the teardown until the last hold is dropped.
/// Each type owns its two end steps: <see cref="OnDestroy"/> after it was published, and
/// <see cref="OnAbort"/> when its creation is taken back (see docs/object-lifetime.md).
/// </summary>
public abstract class IommufdObject
{
    public ObjectId Id { get; internal set; }

    public abstract ObjectKind Kind { get; }

    /// <summary>Long-term references from other objects. Guarded by the object table's lock.</summary>
    internal int Users;

    /// <summary>Calls in flight holding the object. Guarded by the object table's lock.</summary>
    internal int Holds;

    /// <summary>Set once removed from the table; the last hold then runs <see cref="OnDestroy"/>.</summary>
    internal bool Removed;

    /// <summary>
    /// Releases what the object owns. Runs once, with no lock held, and must not fail. It releases
    /// only what the object acquired, so it also serves a creation that stopped half way.
    /// </summary>
    protected internal virtual void OnDestroy() { }

    /// <summary>
    /// Takes back a creation that was never published (its ID is already free). By default the
    /// same as <see cref="OnDestroy"/>; a type overrides it when aborting must undo more (a fault
    /// queue closes the fd the caller never learnt of).
    /// </summary>
    protected internal virtual void OnAbort() => OnDestroy();
}
