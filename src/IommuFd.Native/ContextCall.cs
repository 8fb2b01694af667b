namespace IommuFd.Native;

/// <summary>
/// One call on a context handle, as a scope: <c>using var call = new ContextCall(gate, contexts, handle);</c>.
/// Marked inside the gate before the look-up, so a close racing the call either sees the mark or makes the
/// look-up fail; on leaving, if the context was closed meanwhile, the last call out disposes it.
/// </summary>
internal ref struct ContextCall
{
    private readonly ContextTable _contexts;
    private readonly CallGate.Scope _scope;
    private readonly ContextTable.Entry? _found;

    public ContextCall(CallGate gate, ContextTable contexts, long handle)
    {
        _contexts = contexts;
        _scope = gate.Enter(handle);
        try
        {
            _found = contexts.Find(handle);
        }
        catch
        {
            _scope.Dispose();
            throw;
        }
    }

    /// <summary>The context's entry while it is open; null (EBADF) when unknown or already closed.</summary>
    public readonly ContextTable.Entry? Open => _found is { Closed: 0 } ? _found : null;

    public readonly void Dispose()
    {
        _scope.Dispose();
        if (_found is { Closed: not 0 })
            _contexts.AfterLeavingClosed(_found);
    }
}
