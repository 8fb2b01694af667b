namespace IommuFd.Core.Drivers.PageTables;

/// <summary>How a device write records dirtiness while tracking is on.</summary>
public enum DirtyOnWrite
{
    /// <summary>As hardware does: the walk sets the accessed bit (and dirty on a permitted write) in the entry it ends on.</summary>
    WalkedEntry,

    /// <summary>As the mock does: only a permitted write, and it marks every entry of the leaf's run dirty.</summary>
    WholeLeafRun,
}
