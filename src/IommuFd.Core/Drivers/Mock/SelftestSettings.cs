namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// Process-wide self-test knobs. The temporary memory limit (SET_TEMP_MEMORY_LIMIT) sizes the
/// kernel's internal batches; it changes no result, so the engine only records it.
/// </summary>
public static class SelftestSettings
{
    public const uint DefaultTempMemoryLimit = 65536;

    /// <summary>The smallest limit the kernel accepts: one PFN run (a ulong and a u32).</summary>
    public const uint MinimumTempMemoryLimit = sizeof(ulong) + sizeof(uint);

    private static uint s_tempMemoryLimit = DefaultTempMemoryLimit;

    public static uint TempMemoryLimit => Volatile.Read(ref s_tempMemoryLimit);

    public static Errno SetTempMemoryLimit(uint limit)
    {
        if (limit < MinimumTempMemoryLimit)
            return Errno.EINVAL;
        Volatile.Write(ref s_tempMemoryLimit, limit);
        return Errno.Ok;
    }
}
