namespace IommuFd.Core.Objects;

/// <summary>
/// A short-term hold on a looked-up object (a call in flight), the only way to hold one. Written
/// as a scope: <c>using var ioas = Objects.Hold&lt;Ioas&gt;(id); if (!ioas.Held) return ioas.Status;</c>.
/// While held, a DESTROY removes the object from the table but its teardown waits for the last
/// hold to be disposed. A failed hold holds nothing and disposes to nothing. Not to be copied.
/// </summary>
public readonly struct ObjectHold<T> : IDisposable where T : IommufdObject
{
    private readonly ObjectTable? _table;
    private readonly T? _value;

    internal ObjectHold(ObjectTable table, T value)
    {
        _table = table;
        _value = value;
        Status = Errno.Ok;
    }

    internal ObjectHold(Errno failure) => Status = failure;

    /// <summary>Ok when the object is held; otherwise why not (ENOENT for an unknown ID or another kind).</summary>
    public Errno Status { get; }

    public bool Held => _table is not null;

    /// <summary>The held object; only valid when <see cref="Held"/>.</summary>
    public T Value => _value ?? throw new InvalidOperationException($"no object held ({Status})");

    public void Dispose() => _table?.Release(_value!);
}
