namespace IommuFd.Core.Drivers.PageTables;

/// <summary>What an entry is to the walker.</summary>
public enum PteKind
{
    Empty,
    Table,
    Leaf,
}
