namespace IommuFd.Core.Drivers.PageTables;

/// <summary>How a hardware-style walk for one access ended.</summary>
public enum PageWalkStatus
{
    /// <summary>A leaf translates the address and permits the access.</summary>
    Translated,

    /// <summary>No leaf: the walk met an empty entry (a translation fault).</summary>
    NotMapped,

    /// <summary>A leaf translates the address but does not permit the access (a permission fault).</summary>
    PermissionDenied,
}
