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

    public static int ExpectedSize => Unsafe.SizeOf<HostCallbacks>();
}
