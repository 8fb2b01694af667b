namespace IommuFd.Core.Pages;

/// <summary>
/// A memory-lock budget in CPU pages, charged when pages are pinned (the kernel's
/// RLIMIT_MEMLOCK rule: a pin past the limit fails with ENOMEM and charges nothing).
/// Thread-safe; a leaf lock.
/// </summary>
public sealed class MemlockAccount(string name, ulong limitPages)
{
    private readonly Lock _lock = new();
    private ulong _used;

    public string Name { get; } = name;

    /// <summary>The limit in pages; <see cref="ulong.MaxValue"/> means unlimited.</summary>
    public ulong LimitPages { get; set; } = limitPages;

    public ulong UsedPages
    {
        get
        {
            lock (_lock)
                return _used;
        }
    }

    public Errno TryCharge(ulong pages)
    {
        lock (_lock)
        {
            if (pages > LimitPages || _used > LimitPages - pages)
                return Errno.ENOMEM;
            _used += pages;
            return Errno.Ok;
        }
    }

    /// <summary>Charges past the limit: only to give back pages just uncharged (an undone IOAS_CHANGE_PROCESS).</summary>
    public void ForceCharge(ulong pages)
    {
        lock (_lock)
            _used += pages;
    }

    public void Uncharge(ulong pages)
    {
        lock (_lock)
        {
            if (pages > _used)
                throw new InvalidOperationException($"{Name}: uncharging {pages} pages with {_used} charged");
            _used -= pages;
        }
    }
}
