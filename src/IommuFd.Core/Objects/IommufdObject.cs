namespace IommuFd.Core.Objects;

/// <summary>
/// Something a context holds by ID. Long-term <see cref="Users"/> (another object depending on
/// this one, e.g. an HWPT on its IOAS) make DESTROY fail with EBUSY; short-term holds (a call in
/// flight) only delay the teardown until the last hold is dropped.
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

    /// <summary>Releases what the object owns. Runs once, with no lock held, and must not fail.</summary>
    protected internal virtual void OnDestroy() { }
}
