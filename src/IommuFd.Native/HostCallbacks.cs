using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// Mirror of <c>struct iommufd_emu_host</c> (native/preload/iommufd_emu.h), byte for byte. The
/// shim and the engine ship together, so there is no size or version to check. The copies are
/// short, never call back into managed code and turn faults into -EFAULT themselves, so they
/// are called without a GC transition: it is the largest fixed cost of an emulated ioctl otherwise.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct HostCallbacks
{
    public delegate* unmanaged[SuppressGCTransition]<void*, ulong, ulong, int> CopyFromUser; // offset 0
    public delegate* unmanaged[SuppressGCTransition]<ulong, void*, ulong, int> CopyToUser;   // 8

    // Object fds. Called with a GC transition: they take the shim's locks, and CloseFd may call
    // back into iommufd_emu_release_object.
    public delegate* unmanaged<long, ulong, int> OpenObjectFd;                        // 16
    public delegate* unmanaged<int, long> LookupObjectFd;                             // 24
    public delegate* unmanaged<int, int> CloseFd;                                     // 32

    // Poll readiness of object fds: takes the shim's fd table lock and does a few syscalls, so
    // with a GC transition too; never calls back into the engine.
    public delegate* unmanaged<ulong, int, void> SetObjectReadable;                   // 40
}
