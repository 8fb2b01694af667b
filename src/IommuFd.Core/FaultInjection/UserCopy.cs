using System.Runtime.CompilerServices;
using IommuFd.Core.Memory;

namespace IommuFd.Core.FaultInjection;

/// <summary>
/// Copies between the engine and user memory that correspond to the kernel's copy_from_user and
/// copy_to_user: structs, arrays and bitmaps a command names. Each is a <see cref="FaultSite.UserCopy"/>
/// site. Pinned-page access, DMA and self-test probes are not user copies and read memory directly.
/// </summary>
public static class UserCopy
{
    public static Errno From(IUserMemory memory, ulong address, Span<byte> destination, [CallerMemberName] string member = "",
        [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var rc = FailNth.Check(FaultSite.UserCopy, member, file, line);
        return rc != Errno.Ok ? rc : memory.Read(address, destination);
    }

    public static Errno To(IUserMemory memory, ulong address, ReadOnlySpan<byte> source, [CallerMemberName] string member = "",
        [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        var rc = FailNth.Check(FaultSite.UserCopy, member, file, line);
        return rc != Errno.Ok ? rc : memory.Write(address, source);
    }
}
