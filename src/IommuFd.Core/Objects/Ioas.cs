using IommuFd.Core.AddressSpace;

namespace IommuFd.Core.Objects;

/// <summary>An I/O address space: an ID around an <see cref="IoPageTable"/>.</summary>
public sealed class Ioas : IommufdObject
{
    public override ObjectKind Kind => ObjectKind.Ioas;

    public IoPageTable PageTable { get; } = new();

    protected internal override void OnDestroy() => PageTable.UnmapAll(out _);
}
