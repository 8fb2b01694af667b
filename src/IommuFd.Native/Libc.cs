using System.Runtime.InteropServices;

namespace IommuFd.Native;

/// <summary>
/// The few libc calls the engine needs. They are bound at link time (DirectPInvoke), and calls
/// such as open/write go through the preload shim's wrappers like any library's would.
/// </summary>
internal static unsafe partial class Libc
{
    public const int ProtRead = 0x1;
    public const int ProtWrite = 0x2;
    public const int MapPrivate = 0x02;
    public const int MapAnonymous = 0x20;
    public const int MadvWipeOnFork = 18;
    public const int RlimitMemlock = 8;
    public const int OWronly = 0x1;
    public const int OCreat = 0x40;
    public const int OAppend = 0x400;
    public const int OCloexec = 0x80000;
    public static readonly nint MapFailed = -1;

    [LibraryImport("libc", EntryPoint = "getpid")]
    public static partial int GetPid();

    [LibraryImport("libc", EntryPoint = "geteuid")]
    public static partial uint GetEuid();

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    public static partial int GetRlimit(int resource, ulong* limits);

    [LibraryImport("libc", EntryPoint = "mmap")]
    public static partial nint Mmap(nint address, nuint length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "madvise")]
    public static partial int Madvise(nint address, nuint length, int advice);

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    public static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buffer, nuint count);
}
