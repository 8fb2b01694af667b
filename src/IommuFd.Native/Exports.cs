using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// The C ABI of native/preload/iommufd_emu.h. Nothing may unwind into C: every export catches
/// everything and answers with an errno (ENOMEM for out-of-memory, EIO for anything else).
/// </summary>
internal static unsafe class Exports
{
    private const int EIO = 5;
    private const int ENOMEM = 12;

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_init")]
    public static int Init(HostCallbacks* host)
    {
        try
        {
            return Engine.Initialize(host);
        }
        catch (Exception e)
        {
            return Failure(e);
        }
    }

    /// <summary>Engine to engine only: a fresh copy started by <see cref="ChildRelay"/> in a forked child.</summary>
    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_init_relay")]
    public static int InitRelay(HostCallbacks* host, int epoch, byte* enginePath)
    {
        try
        {
            return Engine.Initialize(host, epoch, enginePath);
        }
        catch (Exception e)
        {
            return Failure(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_open")]
    public static long Open()
    {
        try
        {
            return Engine.Open();
        }
        catch (Exception e)
        {
            return Failure(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_ioctl")]
    public static int Ioctl(long context, ulong command, ulong arg)
    {
        try
        {
            return Engine.Ioctl(context, command, arg);
        }
        catch (Exception e)
        {
            return Failure(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_close")]
    public static void Close(long context)
    {
        try
        {
            Engine.Close(context);
        }
        catch
        {
            // Closing cannot report failure; a context that failed to tear down is leaked.
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_release_object")]
    public static void ReleaseObject(ulong cookie)
    {
        try
        {
            Engine.ReleaseObject(cookie);
        }
        catch
        {
            // Releasing cannot report failure; the object is leaked.
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_object_read")]
    public static long ObjectRead(ulong cookie, ulong buffer, ulong length)
    {
        try
        {
            return Engine.ObjectRead(cookie, buffer, length);
        }
        catch (Exception e)
        {
            return Failure(e);
        }
    }

    [UnmanagedCallersOnly(EntryPoint = "iommufd_emu_object_write")]
    public static long ObjectWrite(ulong cookie, ulong buffer, ulong length)
    {
        try
        {
            return Engine.ObjectWrite(cookie, buffer, length);
        }
        catch (Exception e)
        {
            return Failure(e);
        }
    }

    private static int Failure(Exception e) => e is OutOfMemoryException ? -ENOMEM : -EIO;
}
