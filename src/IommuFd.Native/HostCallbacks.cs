using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// Mirror of <c>struct iommufd_emu_host</c> (native/preload/iommufd_emu.h), byte for byte: fields
/// are only ever appended, and a shim passes the size it was built with. The copies are short,
/// never call back into managed code and turn faults into -EFAULT themselves, so they are called
/// without a GC transition: it is the largest fixed cost of an emulated ioctl otherwise.
/// </summary>
/// <remarks>
/// <see cref="ChildRelay.RelayHost"/> embeds this struct and is told apart from a shim's by its
/// larger size and a marker, so a later shim's struct may grow past it.
/// </remarks>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct HostCallbacks
{
    public const uint CurrentVersion = 1;

    public uint Size;                                                                 // offset 0
    public uint Version;                                                              // 4
    public delegate* unmanaged[SuppressGCTransition]<void*, ulong, ulong, int> CopyFromUser; // 8
    public delegate* unmanaged[SuppressGCTransition]<ulong, void*, ulong, int> CopyToUser;   // 16

    // Object fds (a shim passing Size >= ObjectsSize). Called with a GC transition: they take
    // locks, and CloseFd may call back into iommufd_emu_release_object.
    public delegate* unmanaged<long, ulong, int> OpenObjectFd;                        // 24
    public delegate* unmanaged<int, long> LookupObjectFd;                             // 32
    public delegate* unmanaged<int, int> CloseFd;                                     // 40

    // Poll readiness of object fds (Size >= ReadinessSize): takes the shim's fd table lock and
    // does a few syscalls, so with a GC transition too; never calls back into the engine.
    public delegate* unmanaged<ulong, int, void> SetObjectReadable;                   // 48

    /// <summary>The first version's struct (the copy callbacks only): the least a shim may pass.</summary>
    public const int MinimumSize = 24;

    /// <summary>IOMMUFD_EMU_HOST_SIZE_OBJECTS: large enough to carry the object fd callbacks.</summary>
    public const int ObjectsSize = 48;

    /// <summary>IOMMUFD_EMU_HOST_SIZE_READINESS: also carries <see cref="SetObjectReadable"/> (the whole struct).</summary>
    public const int ReadinessSize = 56;

    public readonly bool HasObjectFiles =>
        Size >= ObjectsSize && OpenObjectFd is not null && LookupObjectFd is not null && CloseFd is not null;

    public readonly bool HasObjectReadiness => Size >= ReadinessSize && SetObjectReadable is not null;
}
