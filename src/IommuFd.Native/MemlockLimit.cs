namespace IommuFd.Native;

/// <summary>RLIMIT_MEMLOCK in bytes, as the kernel applies it to iommufd pins.</summary>
internal static unsafe class MemlockLimit
{
    /// <summary>Unlimited for root: the kernel skips the check for CAP_IPC_LOCK, and root holds it.</summary>
    public static ulong ForThisProcess()
    {
        if (Libc.GetEuid() == 0)
            return ulong.MaxValue;
        var limits = stackalloc ulong[2];
        return Libc.GetRlimit(Libc.RlimitMemlock, limits) == 0 ? limits[0] : ulong.MaxValue;
    }
}
