namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// Receives the dirty leaves a page-table walk finds, in increasing IOVA order. A struct, so a
/// walk that reports every leaf of a large range allocates nothing.
/// </summary>
public interface IDirtyLeafSink
{
    /// <summary>The whole leaf [iova, iova + size) was written since its dirty bit was last cleared.</summary>
    void Dirty(ulong iova, ulong size);
}
