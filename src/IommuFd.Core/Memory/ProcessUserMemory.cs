using System.Runtime.InteropServices;

namespace IommuFd.Core.Memory;

/// <summary>
/// This process's own memory, reached with process_vm_readv/process_vm_writev on itself: the
/// kernel validates every address, so a bad pointer from a program comes back as EFAULT instead
/// of a segmentation fault. Pinning checks the pages are mapped (and writable) via /proc/self/maps.
/// Pins are kept by address; questions about a page (its pin count, whether two addresses are
/// one page) add up the addresses that share it, which only a shared file mapping can have.
/// </summary>
public sealed partial class ProcessUserMemory : IUserMemory
{
    public static readonly ProcessUserMemory Instance = new();

    private readonly PinLedger _pins = new();

    private ProcessUserMemory() { }

    public unsafe Errno Read(ulong address, Span<byte> destination)
    {
        if (destination.IsEmpty)
            return Errno.Ok;
        fixed (byte* local = destination)
        {
            var l = new IoVec { Base = local, Length = (nuint)destination.Length };
            var r = new IoVec { Base = (void*)address, Length = (nuint)destination.Length };
            return Transfer(ProcessVmReadv(GetPid(), &l, 1, &r, 1, 0), destination.Length);
        }
    }

    public unsafe Errno Write(ulong address, ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty)
            return Errno.Ok;
        fixed (byte* local = source)
        {
            var l = new IoVec { Base = local, Length = (nuint)source.Length };
            var r = new IoVec { Base = (void*)address, Length = (nuint)source.Length };
            return Transfer(ProcessVmWritev(GetPid(), &l, 1, &r, 1, 0), source.Length);
        }
    }

    public Errno Pin(ulong pageAddress, ulong pageCount, bool writable)
    {
        if (pageCount == 0)
            return Errno.Ok;
        if (pageCount > (ulong.MaxValue >> CpuPage.Shift) || !IovaRange.TryFromLength(pageAddress, pageCount << CpuPage.Shift, out var want))
            return Errno.EFAULT;
        if (!ProcessMaps.Covers(want, writable))
            return Errno.EFAULT;
        _pins.Pin(pageAddress, pageCount);
        return Errno.Ok;
    }

    public void Unpin(ulong pageAddress, ulong pageCount) => _pins.Unpin(pageAddress, pageCount);

    public ulong PinCount(ulong address)
    {
        var total = 0UL;
        foreach (var alias in ProcessMaps.Aliases(address))
            total += _pins.PinCount(alias);
        return total;
    }

    public bool SamePage(ulong a, ulong b) => ProcessMaps.SamePage(a, b);

    private static Errno Transfer(nint result, int wanted) =>
        result == wanted ? Errno.Ok : Errno.EFAULT;

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct IoVec
    {
        public void* Base;
        public nuint Length;
    }

    // Not Environment.ProcessId: .NET caches it, and a forked child must read its own memory.
    [LibraryImport("libc", EntryPoint = "getpid")]
    private static partial int GetPid();

    [LibraryImport("libc", EntryPoint = "process_vm_readv", SetLastError = true)]
    private static unsafe partial nint ProcessVmReadv(int pid, IoVec* local, ulong localCount, IoVec* remote, ulong remoteCount, ulong flags);

    [LibraryImport("libc", EntryPoint = "process_vm_writev", SetLastError = true)]
    private static unsafe partial nint ProcessVmWritev(int pid, IoVec* local, ulong localCount, IoVec* remote, ulong remoteCount, ulong flags);
}
