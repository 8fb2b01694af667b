using IommuFd.Core;

namespace IommuFd.Native;

/// <summary>
/// The C ABI's one result convention: a value &gt;= 0, or a negative <see cref="Errno"/>. Every
/// errno the native layer returns is Core's <see cref="Errno"/>, and an exception that escapes
/// to the boundary (a bug, or out of memory) becomes an errno here and nowhere else.
/// </summary>
internal static class NativeResult
{
    /// <summary>-errno, as the C ABI returns it.</summary>
    public static int Of(Errno errno) => -(int)errno;

    /// <summary>ENOMEM for out-of-memory, EIO for anything else: nothing may unwind into C.</summary>
    public static int FromException(Exception e) => Of(e is OutOfMemoryException ? Errno.ENOMEM : Errno.EIO);
}
