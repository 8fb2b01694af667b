using IommuFd.Core.AddressSpace;

namespace IommuFd.Core.Objects;

/// <summary>An I/O address space: an ID around an <see cref="IoPageTable"/>, plus the HWPTs built on it.</summary>
public sealed class Ioas : IommufdObject
{
    public override ObjectKind Kind => ObjectKind.Ioas;

    public IoPageTable PageTable { get; } = new();

    /// <summary>HWPTs whose domain mirrors this IOAS, in creation order. Guarded by the context's attach lock.</summary>
    internal readonly List<HwptPaging> Hwpts = [];

    public IoasId TypedId => new(Id.Value);

    protected internal override void OnDestroy() => PageTable.UnmapAll(out _);
}
