using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// The C ABI of native/preload/iommufd_emu.h: each export is one line of routing into the route
/// of the current epoch. Nothing may unwind into C: an escaped exception becomes an errno
/// (<see cref="NativeResult.FromException"/>), or is dropped where C expects no result.
/// </summary>
internal static unsafe class Exports
{
    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_init")]
    public static int Init(HostCallbacks* host)
    {
        try { return Routing.Initialize(host, epoch: 0, enginePath: null); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    /// <summary>Engine to engine only: a fresh copy started in a forked child (<see cref="Fork.EngineCopy"/>).</summary>
    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_init_relay")]
    public static int InitRelay(HostCallbacks* host, int epoch, byte* enginePath)
    {
        try { return Routing.Initialize(host, epoch, enginePath); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    // ---- an iommufd context ----

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_open")]
    public static long Open()
    {
        try { return Routing.Current.Open(); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_ioctl")]
    public static int Ioctl(long context, ulong command, ulong arg)
    {
        try { return Routing.Current.Ioctl(context, command, arg); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    /// <summary>Closing cannot report failure; a context that failed to tear down is leaked.</summary>
    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_close")]
    public static void Close(long context)
    {
        try { Routing.Current.Close(context); }
        catch { }
    }

    // ---- object fds ----

    /// <summary>Releasing cannot report failure; the object is leaked.</summary>
    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_release_object")]
    public static void ReleaseObject(ulong cookie)
    {
        try { Routing.Current.ReleaseObject(cookie); }
        catch { }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_object_read")]
    public static long ObjectRead(ulong cookie, ulong buffer, ulong length)
    {
        try { return Routing.Current.ObjectRead(cookie, buffer, length); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    // ---- process accounting ----

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_process_pins")]
    public static int ProcessPins(int pid, PinCounts* counts)
    {
        try { return Routing.Current.ProcessPins(pid, counts); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_object_write")]
    public static long ObjectWrite(ulong cookie, ulong buffer, ulong length)
    {
        try { return Routing.Current.ObjectWrite(cookie, buffer, length); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    // ---- mappings of a context's fd ----

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_mmap")]
    public static long Mmap(long context, ulong offset, ulong length, ulong destination)
    {
        try { return Routing.Current.Mmap(context, offset, length, destination); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    // ---- fault injection: the kernel's /proc/<pid>/task/<tid>/fail-nth (docs/fault-injection.md) ----

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_fail_nth_set")]
    public static int FailNthSet(int tid, uint n)
    {
        try { return Routing.Current.FailNthSet(tid, n); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_fail_nth_get")]
    public static long FailNthGet(int tid)
    {
        try { return Routing.Current.FailNthGet(tid); }
        catch (Exception e) { return NativeResult.FromException(e); }
    }

    /// <summary>Unmapping cannot report failure; the owner stays in use.</summary>
    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_munmap")]
    public static void Munmap(ulong cookie)
    {
        try { Routing.Current.Munmap(cookie); }
        catch { }
    }
}
