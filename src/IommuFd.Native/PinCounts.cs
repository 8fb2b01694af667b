using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// struct iommufd_emu_pins (native/preload/iommufd_emu.h): a process's pins as the emulated
/// kernel counts them, in CPU pages (<see cref="Core.Pages.ProcessPins"/>).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct PinCounts
{
    public ulong PinnedPages;
    public ulong LockedPages;

    public void Add(in PinCounts other)
    {
        PinnedPages += other.PinnedPages;
        LockedPages += other.LockedPages;
    }
}
