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

    [LibraryImport("libc", EntryPoint = "gettid")]
    public static partial int GetTid();

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

    [LibraryImport("libc", EntryPoint = "pthread_atfork")]
    public static partial int PthreadAtfork(delegate* unmanaged<void> prepare, delegate* unmanaged<void> parent, delegate* unmanaged<void> child);

    [LibraryImport("libc", EntryPoint = "pthread_mutex_lock")]
    public static partial int PthreadMutexLock(void* mutex);

    [LibraryImport("libc", EntryPoint = "pthread_mutex_unlock")]
    public static partial int PthreadMutexUnlock(void* mutex);

    public const int ORdonly = 0;
    public const uint MfdCloexec = 1;
    public const int RtldNow = 2;
    public const int RtldLocal = 0;
    public const int RtldNoload = 4;

    [LibraryImport("libc", EntryPoint = "open")]
    public static partial int OpenRaw(byte* path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "read")]
    public static partial nint Read(int fd, byte* buffer, nuint count);

    [LibraryImport("libc", EntryPoint = "close")]
    public static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "memfd_create")]
    public static partial int MemfdCreate(byte* name, uint flags);

    [LibraryImport("libc", EntryPoint = "dlopen")]
    public static partial nint Dlopen(byte* path, int flags);

    [LibraryImport("libc", EntryPoint = "dlclose")]
    public static partial int Dlclose(nint handle);

    public const int AfUnix = 1, SockSeqpacket = 5, SockCloexec = 0x80000, MsgNoSignal = 0x4000;
    public const short PollIn = 1;
    public const int EfdCloexec = 0x80000;

    [StructLayout(LayoutKind.Sequential)]
    public struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }

    [LibraryImport("libc", EntryPoint = "socketpair", SetLastError = true)]
    public static partial int SocketPair(int domain, int type, int protocol, int* fds);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, void* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, void* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollFd* fds, nuint count, int timeout);

    [LibraryImport("libc", EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport("libc", EntryPoint = "dup")]
    public static partial int Dup(int fd);

    [LibraryImport("libc", EntryPoint = "dlsym")]
    public static partial nint Dlsym(nint handle, byte* name);

    [LibraryImport("libc", EntryPoint = "dladdr")]
    public static partial int Dladdr(nint address, DlInfo* info);

    [StructLayout(LayoutKind.Sequential)]
    public struct DlInfo
    {
        public byte* FileName;
        public nint FileBase;
        public byte* SymbolName;
        public nint SymbolAddress;
    }
}
