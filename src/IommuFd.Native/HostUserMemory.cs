using IommuFd.Core;
using IommuFd.Core.Memory;

namespace IommuFd.Native;

/// <summary>
/// The emulated program's memory reached through the shim's fault-safe copy routines (a bad
/// pointer comes back as EFAULT, never a crash). Pinning bookkeeping is delegated: the shim
/// only copies bytes, it knows nothing of mappings.
/// </summary>
internal sealed unsafe class HostUserMemory : IUserMemory
{
    private readonly delegate* unmanaged[SuppressGCTransition]<void*, ulong, ulong, int> _copyFromUser;
    private readonly delegate* unmanaged[SuppressGCTransition]<ulong, void*, ulong, int> _copyToUser;
    private readonly IUserMemory _pinning;

    public HostUserMemory(in HostCallbacks callbacks, IUserMemory pinning)
    {
        _copyFromUser = callbacks.CopyFromUser;
        _copyToUser = callbacks.CopyToUser;
        _pinning = pinning;
    }

    public Errno Read(ulong address, Span<byte> destination)
    {
        if (destination.IsEmpty)
            return Errno.Ok;
        fixed (byte* local = destination)
            return _copyFromUser(local, address, (ulong)destination.Length) == 0 ? Errno.Ok : Errno.EFAULT;
    }

    public Errno Write(ulong address, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty)
            return Errno.Ok;
        fixed (byte* local = source)
            return _copyToUser(address, local, (ulong)source.Length) == 0 ? Errno.Ok : Errno.EFAULT;
    }

    public Errno Pin(ulong pageAddress, ulong pageCount, bool writable) => _pinning.Pin(pageAddress, pageCount, writable);

    public void Unpin(ulong pageAddress, ulong pageCount) => _pinning.Unpin(pageAddress, pageCount);

    public ulong PinCount(ulong address) => _pinning.PinCount(address);

    public bool SamePage(ulong a, ulong b) => _pinning.SamePage(a, b);
}
