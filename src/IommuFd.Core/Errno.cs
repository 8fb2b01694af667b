namespace IommuFd.Core;

/// <summary>
/// Linux errno values. Every fallible engine operation returns one (<see cref="Ok"/> is success),
/// so the ioctl layer can hand it to user space unchanged and the hot error paths
/// (an unknown ID, a bad IOVA) never pay for an exception.
/// </summary>
public enum Errno
{
    /// <summary>Success.</summary>
    Ok = 0,
    /// <summary>Operation not permitted.</summary>
    EPERM = 1,
    /// <summary>No such object (an unknown ID, or nothing mapped there).</summary>
    ENOENT = 2,
    /// <summary>Interrupted.</summary>
    EINTR = 4,
    /// <summary>I/O error.</summary>
    EIO = 5,
    /// <summary>No such device or address (e.g. nothing to map at that offset).</summary>
    ENXIO = 6,
    /// <summary>Argument list too long (e.g. a non-zero tail beyond the known struct).</summary>
    E2BIG = 7,
    /// <summary>Bad file descriptor.</summary>
    EBADF = 9,
    /// <summary>Try again (nothing ready yet).</summary>
    EAGAIN = 11,
    /// <summary>Out of memory, or over the memlock limit.</summary>
    ENOMEM = 12,
    /// <summary>Bad user address.</summary>
    EFAULT = 14,
    /// <summary>Busy: still in use.</summary>
    EBUSY = 16,
    /// <summary>Already exists (an overlapping mapping).</summary>
    EEXIST = 17,
    /// <summary>No such device, or no IOMMU behind it.</summary>
    ENODEV = 19,
    /// <summary>Invalid argument.</summary>
    EINVAL = 22,
    /// <summary>Too many open files.</summary>
    EMFILE = 24,
    /// <summary>Unknown command.</summary>
    ENOTTY = 25,
    /// <summary>No space left (e.g. no free IOVA).</summary>
    ENOSPC = 28,
    /// <summary>Illegal seek.</summary>
    ESPIPE = 29,
    /// <summary>Out of range.</summary>
    ERANGE = 34,
    /// <summary>Would deadlock.</summary>
    EDEADLK = 35,
    /// <summary>Invalid exchange.</summary>
    EBADE = 52,
    /// <summary>A start plus length that wraps past the top of the address space.</summary>
    EOVERFLOW = 75,
    /// <summary>File descriptor in a bad state.</summary>
    EBADFD = 77,
    /// <summary>Message too long.</summary>
    EMSGSIZE = 90,
    /// <summary>Not supported by this driver or object.</summary>
    EOPNOTSUPP = 95,
    /// <summary>Address already in use.</summary>
    EADDRINUSE = 98,
}

/// <summary>Turns an <see cref="Errno"/> into an exception for embedders who prefer them.</summary>
public sealed class IommuFdException(Errno errno, string message) : Exception($"{errno}: {message}")
{
    /// <summary>The errno the failed operation returned.</summary>
    public Errno Errno { get; } = errno;
}

/// <summary>Helpers on <see cref="Errno"/>.</summary>
public static class ErrnoExtensions
{
    /// <summary>Throws <see cref="IommuFdException"/> unless <paramref name="errno"/> is <see cref="Errno.Ok"/>.</summary>
    public static void ThrowIfError(this Errno errno, string what)
    {
        if (errno != Errno.Ok)
            throw new IommuFdException(errno, what);
    }
}
