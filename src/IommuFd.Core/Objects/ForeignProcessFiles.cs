namespace IommuFd.Core.Objects;

/// <summary>
/// The object fds seen by another process sharing a context (a forked child using an inherited
/// fd): it finds the fds it inherited, but cannot be handed a new one, which would be opened in
/// our process, not its own (EOPNOTSUPP).
/// </summary>
public sealed class ForeignProcessFiles(IObjectFiles owner) : IObjectFiles
{
    public Errno Open(object target, Action onLastClose, out int fd)
    {
        fd = -1;
        return Errno.EOPNOTSUPP;
    }

    public object? Lookup(int fd) => owner.Lookup(fd);

    public Errno Close(int fd) => owner.Close(fd);

    public void SetReadable(object target, bool readable) => owner.SetReadable(target, readable);
}
