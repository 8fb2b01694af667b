namespace IommuFd.Core;

/// <summary>
/// The one place the engine's lock order is written down. A thread may take a lock only while
/// holding locks that come before it in this list, never one after it:
/// <list type="number">
/// <item>context options (<c>IommufdContext._optionLock</c>), only around the object count check
///   and the compatibility IOAS;</item>
/// <item>the context's attach lock (<c>IommufdContext._attachLock</c>): every attach, replace and
///   detach decision and each IOAS's HWPT list; re-entrant, because destroying an automatic HWPT
///   from inside a detach runs its teardown on the same thread;</item>
/// <item>the object table (<c>ObjectTable._lock</c>): held briefly for ID look-up and reference
///   counts, never across page-table work;</item>
/// <item>an access (<c>Access._lock</c>): keeps its IOAS from changing while it pins or unpins;</item>
/// <item>an IOAS's page table (<c>IoPageTable._lock</c>): the IOVA tree, reserved/allowed ranges,
///   its domain list; held while domains are filled or changed, so each change is atomic;</item>
/// <item>user pages (<c>UserPages._lock</c>): the pin users of one MAP's memory;</item>
/// <item>leaves: memlock accounts, the user memory's pin ledger and its region table, a fault
///   queue (<c>FaultQueue._lock</c>; page-request answers reach devices after it is dropped, and
///   its readiness callback, run under it, takes only the shim's fd-table lock, outside the engine).</item>
/// </list>
/// Two page tables are never locked together: COPY reads its source, drops the lock, then maps.
/// An unmap that finds access pins drops the page-table lock before telling the accesses, which
/// call back in to unpin.
/// </summary>
public static class LockOrder;
