namespace IommuFd.Core.Objects;

/// <summary>Any object's ID, as DESTROY takes it. Typed IDs convert to it, never back.</summary>
public readonly record struct ObjectId(uint Value)
{
    /// <summary>The kind and number, e.g. <c>ioas#1</c>.</summary>
    public override string ToString() => $"#{Value}";
}

/// <summary>The ID of an I/O address space; a device ID cannot be passed where this is expected.</summary>
public readonly record struct IoasId(uint Value)
{
    /// <summary>Any typed ID is an object ID (for DESTROY).</summary>
    public static implicit operator ObjectId(IoasId id) => new(id.Value);

    /// <summary>The kind and number, e.g. <c>ioas#1</c>.</summary>
    public override string ToString() => $"ioas#{Value}";
}

/// <summary>The ID of a bound device.</summary>
public readonly record struct DeviceId(uint Value)
{
    /// <summary>Any typed ID is an object ID (for DESTROY).</summary>
    public static implicit operator ObjectId(DeviceId id) => new(id.Value);

    /// <summary>The kind and number, e.g. <c>ioas#1</c>.</summary>
    public override string ToString() => $"dev#{Value}";
}

/// <summary>The ID of a hardware page table (paging or nested).</summary>
public readonly record struct HwptId(uint Value)
{
    /// <summary>Any typed ID is an object ID (for DESTROY).</summary>
    public static implicit operator ObjectId(HwptId id) => new(id.Value);

    /// <summary>The kind and number, e.g. <c>ioas#1</c>.</summary>
    public override string ToString() => $"hwpt#{Value}";
}

/// <summary>The ID of an access (an emulated device without its own IOMMU).</summary>
public readonly record struct AccessId(uint Value)
{
    /// <summary>Any typed ID is an object ID (for DESTROY).</summary>
    public static implicit operator ObjectId(AccessId id) => new(id.Value);

    /// <summary>The kind and number, e.g. <c>ioas#1</c>.</summary>
    public override string ToString() => $"access#{Value}";
}

/// <summary>The ID of a fault queue.</summary>
public readonly record struct FaultId(uint Value)
{
    /// <summary>Any typed ID is an object ID (for DESTROY).</summary>
    public static implicit operator ObjectId(FaultId id) => new(id.Value);

    /// <summary>The kind and number, e.g. <c>ioas#1</c>.</summary>
    public override string ToString() => $"fault#{Value}";
}
