namespace IommuFd.Core;

/// <summary>
/// Linux errno values. Every fallible engine operation returns one (<see cref="Ok"/> is success),
/// so the ioctl layer can hand it to user space unchanged and the hot error paths
/// (an unknown ID, a bad IOVA) never pay for an exception.
/// </summary>
public enum Errno
{
    Ok = 0,
    EPERM = 1,
    ENOENT = 2,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    EBADF = 9,
    EAGAIN = 11,
    ENOMEM = 12,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    ENODEV = 19,
    EINVAL = 22,
    EMFILE = 24,
    ENOTTY = 25,
    ENOSPC = 28,
    ESPIPE = 29,
    ERANGE = 34,
    EDEADLK = 35,
    EBADE = 52,
    EOVERFLOW = 75,
    EBADFD = 77,
    EMSGSIZE = 90,
    EOPNOTSUPP = 95,
    EADDRINUSE = 98,
}

/// <summary>Turns an <see cref="Errno"/> into an exception for embedders who prefer them.</summary>
public sealed class IommuFdException(Errno errno, string message) : Exception($"{errno}: {message}")
{
    public Errno Errno { get; } = errno;
}

public static class ErrnoExtensions
{
    /// <summary>Throws <see cref="IommuFdException"/> unless <paramref name="errno"/> is <see cref="Errno.Ok"/>.</summary>
    public static void ThrowIfError(this Errno errno, string what)
    {
        if (errno != Errno.Ok)
            throw new IommuFdException(errno, what);
    }
}
