namespace IommuFd.Core.Drivers.PageTables;

/// <summary>Receives the leaves of a range in IOVA order (a struct, so the walk is specialised and allocates nothing).</summary>
public interface ILeafVisitor
{
    /// <param name="iova">The first IOVA of the whole leaf, which may start before the range walked.</param>
    /// <param name="leaf">The decoded page: output base, size, permissions.</param>
    /// <param name="level">The 0-based level of the table holding it.</param>
    /// <param name="pte">The raw entry the walk read (the first entry of a size-coded run).</param>
    void Visit(ulong iova, PteLeaf leaf, int level, ulong pte);
}
