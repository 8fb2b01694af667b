namespace IommuFd.Core.Pages;

/// <summary>
/// Who pays for the pinned pages of one <see cref="UserPages"/>: the process that owns them
/// (its pinned-page count, <c>VmPin</c>, in every mode) and, by the context's accounting mode,
/// the user's or that process's memory-lock account (<c>VmLck</c> in process mode). Immutable:
/// IOAS_CHANGE_PROCESS gives the pages a new charge rather than editing this one.
/// </summary>
internal sealed class PinCharge(IommuHost owner, AccountMode mode)
{
    public IommuHost Owner { get; } = owner;

    public AccountMode Mode { get; } = mode;

    private MemlockAccount Budget => Owner.AccountFor(Mode);

    /// <summary>ENOMEM past the memory-lock limit, charging nothing.</summary>
    public Errno TryCharge(ulong pages)
    {
        var rc = Budget.TryCharge(pages);
        if (rc == Errno.Ok)
            Owner.PinnedAccount.ForceCharge(pages);
        return rc;
    }

    /// <summary>Charges past any limit: only to give back a charge just taken away (an undone move).</summary>
    public void ForceCharge(ulong pages)
    {
        Budget.ForceCharge(pages);
        Owner.PinnedAccount.ForceCharge(pages);
    }

    public void Uncharge(ulong pages)
    {
        Budget.Uncharge(pages);
        Owner.PinnedAccount.Uncharge(pages);
    }
}
