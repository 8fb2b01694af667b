namespace IommuFd.Core.Objects;

/// <summary>
/// An object being created: its ID is reserved but no look-up can see it. <see cref="Publish"/>
/// makes it visible once nothing can fail any more (the caller has its ID); disposing it without
/// publishing takes the creation back, running the type's abort step (<see cref="IommufdObject.OnAbort"/>),
/// so a failed creation leaves neither an ID nor anything the object had acquired. Written as a
/// scope: <c>using var ioas = context.BeginCreateIoas(); … ioas.Publish();</c>.
/// </summary>
public sealed class PendingObject<T> : IDisposable where T : IommufdObject
{
    private readonly ObjectTable? _table;
    private readonly T? _value;
    private bool _settled;

    internal PendingObject(ObjectTable table, T value)
    {
        _table = table;
        _value = value;
        Status = Errno.Ok;
    }

    internal PendingObject(Errno failure)
    {
        Status = failure;
        _settled = true;
    }

    /// <summary>Ok while an ID is reserved; otherwise why creation failed (nothing is then pending).</summary>
    public Errno Status { get; }

    public bool Reserved => _table is not null;

    /// <summary>The object (its <see cref="IommufdObject.Id"/> is already the one it will keep).</summary>
    public T Value => _value ?? throw new InvalidOperationException($"nothing pending ({Status})");

    /// <summary>Makes the object visible to look-ups; afterwards disposing does nothing.</summary>
    public T Publish()
    {
        if (_settled || _table is null)
            throw new InvalidOperationException("already published or aborted");
        _settled = true;
        _table.Publish(Value);
        return Value;
    }

    /// <summary>For a caller with nothing left that can fail: publishes at once when reserved; returns <see cref="Status"/>.</summary>
    public Errno PublishNow(out T value)
    {
        value = Reserved ? Publish() : null!;
        return Status;
    }

    /// <summary>Aborts the creation unless it was published.</summary>
    public void Dispose()
    {
        if (_settled)
            return;
        _settled = true;
        _table!.Abort(Value);
    }
}
