namespace IommuFd.Core.Pages;

/// <summary>
/// What the kernel shows of a process's pins in <c>/proc/&lt;pid&gt;/status</c>, in CPU pages:
/// <c>VmPin</c> (every pinned page) and the part of <c>VmLck</c> that pins charged in process mode.
/// </summary>
public readonly record struct ProcessPins(ulong PinnedPages, ulong LockedPages);
