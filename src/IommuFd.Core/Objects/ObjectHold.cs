namespace IommuFd.Core.Objects;

/// <summary>
/// A short-term hold on a looked-up object, released by <see cref="Dispose"/>, so callers write
/// <c>using (hold)</c> instead of a try/finally around every look-up.
/// </summary>
public readonly struct ObjectHold<T> : IDisposable where T : IommufdObject
{
    private readonly ObjectTable? _table;

    internal ObjectHold(ObjectTable table, T value)
    {
        _table = table;
        Value = value;
    }

    /// <summary>The held object (null only in a hold that failed).</summary>
    public T Value { get; }

    public void Dispose()
    {
        if (_table is not null)
            _table.Release(Value);
    }
}
