namespace IommuFd.Core.Drivers.PageTables;

/// <summary>Receives the dirty parts of a range: each call is one leaf's overlap with the range, in IOVA order.</summary>
public interface IDirtySink
{
    void Dirty(ulong iova, ulong length);
}
