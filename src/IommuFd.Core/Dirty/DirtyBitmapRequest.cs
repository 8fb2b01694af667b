namespace IommuFd.Core.Dirty;

/// <summary>
/// IOMMU_HWPT_GET_DIRTY_BITMAP's question: which <paramref name="PageSize"/> pages of
/// [<paramref name="Iova"/>, +<paramref name="Length"/>) were written. Bit n of the user bitmap at
/// <paramref name="BitmapAddress"/> (byte n / 8, bit n % 8: little-endian u64 words) stands for the
/// page at Iova + n × PageSize. Bits are only ever set, never cleared, in the caller's bitmap.
/// </summary>
public readonly record struct DirtyBitmapRequest(ulong Iova, ulong Length, ulong PageSize, ulong BitmapAddress, bool KeepDirty = false);
