using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// Mirror of <c>struct iommufd_emu_host</c> (native/preload/iommufd_emu.h). The copies are short,
/// never call back into managed code and turn faults into -EFAULT themselves, so they are called
/// without a GC transition: it is the largest fixed cost of an emulated ioctl otherwise.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct HostCallbacks
{
    public const uint CurrentVersion = 1;

    public uint Size;
    public uint Version;
    public delegate* unmanaged[SuppressGCTransition]<void*, ulong, ulong, int> CopyFromUser;
    public delegate* unmanaged[SuppressGCTransition]<ulong, void*, ulong, int> CopyToUser;

    // Object fds (a shim passing Size >= ObjectsSize). Called with a GC transition: they take
    // locks, and CloseFd may call back into iommufd_emu_release_object.
    public delegate* unmanaged<long, ulong, int> OpenObjectFd;
    public delegate* unmanaged<int, long> LookupObjectFd;
    public delegate* unmanaged<int, int> CloseFd;

    /// <summary>The first version's struct (the copy callbacks only): the least a shim may pass.</summary>
    public const int MinimumSize = 24;

    /// <summary>Large enough to carry the object fd callbacks.</summary>
    public static int ObjectsSize => Unsafe.SizeOf<HostCallbacks>();

    public readonly bool HasObjectFiles =>
        Size >= ObjectsSize && OpenObjectFd is not null && LookupObjectFd is not null && CloseFd is not null;
}
