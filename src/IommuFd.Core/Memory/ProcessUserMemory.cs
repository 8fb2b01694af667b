using System.Runtime.InteropServices;

namespace IommuFd.Core.Memory;

/// <summary>
/// This process's own memory, reached with process_vm_readv/process_vm_writev on itself: the
/// kernel validates every address, so a bad pointer from a program comes back as EFAULT instead
/// of a segmentation fault. Pinning checks the pages are mapped (and writable) by asking the kernel
/// about each mapping (PROCMAP_QUERY), or by reading /proc/self/maps on older kernels.
/// Pins are kept by address; questions about a page (its pin count, whether two addresses are
/// one page) add up the addresses that share it, which only a shared file mapping can have.
/// </summary>
public sealed partial class ProcessUserMemory : IUserMemory
{
    public static readonly ProcessUserMemory Instance = new(0);

    private readonly PinLedger _pins = new();
    private readonly int _pid;
    private readonly string _maps;
    private readonly Lock _aliasLock = new();
    private readonly List<(ulong Theirs, ulong Ours, ulong Length)> _pinnedAliases = [];

    private ProcessUserMemory(int pid)
    {
        _pid = pid;
        _maps = ProcessMaps.PathOf(pid);
    }

    /// <summary>
    /// The memory of another process (a forked child issuing ioctls through an inherited fd),
    /// reached with process_vm_readv/writev on its pid. Once it exits its memory is gone, except
    /// shared pages it had pinned that this process maps too: those stay reachable here, as
    /// pinned pages outlive their process in the kernel.
    /// </summary>
    public static ProcessUserMemory ForProcess(int pid)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(pid);
        return new ProcessUserMemory(pid);
    }

    private int Pid => _pid == 0 ? GetPid() : _pid;

    public unsafe Errno Read(ulong address, Span<byte> destination)
    {
        if (destination.IsEmpty)
            return Errno.Ok;
        fixed (byte* local = destination)
        {
            var l = new IoVec { Base = local, Length = (nuint)destination.Length };
            var r = new IoVec { Base = (void*)address, Length = (nuint)destination.Length };
            var rc = Transfer(ProcessVmReadv(Pid, &l, 1, &r, 1, 0), destination.Length);
            return rc == Errno.Ok || !TryLocalAlias(address, (ulong)destination.Length, out var alias) ? rc : Instance.Read(alias, destination);
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
            var rc = Transfer(ProcessVmWritev(Pid, &l, 1, &r, 1, 0), source.Length);
            return rc == Errno.Ok || !TryLocalAlias(address, (ulong)source.Length, out var alias) ? rc : Instance.Write(alias, source);
        }
    }

    public Errno Pin(ulong pageAddress, ulong pageCount, bool writable)
    {
        if (pageCount == 0)
            return Errno.Ok;
        if (pageCount > (ulong.MaxValue >> CpuPage.Shift) || !IovaRange.TryFromLength(pageAddress, pageCount << CpuPage.Shift, out var want))
            return Errno.EFAULT;
        if (!ProcessMaps.Covers(_pid, want, writable))
            return Errno.EFAULT;
        if (_pid != 0)
        {
            var aliases = ProcessMaps.LocalAliases(_maps, want);
            lock (_aliasLock)
                _pinnedAliases.AddRange(aliases.Where(a => !_pinnedAliases.Contains(a)));
        }
        _pins.Pin(pageAddress, pageCount);
        return Errno.Ok;
    }

    public void Unpin(ulong pageAddress, ulong pageCount) => _pins.Unpin(pageAddress, pageCount);

    public ulong PinCount(ulong address)
    {
        var total = 0UL;
        foreach (var alias in ProcessMaps.Aliases(_maps, address))
            total += _pins.PinCount(alias);
        return total;
    }

    public bool SamePage(ulong a, ulong b) => ProcessMaps.SamePage(_maps, a, b);

    /// <summary>Where this process reaches [address, +length) of another's pinned shared memory, if it does.</summary>
    private bool TryLocalAlias(ulong address, ulong length, out ulong local)
    {
        local = 0;
        if (_pid == 0)
            return false;
        lock (_aliasLock)
        {
            foreach (var (theirs, ours, size) in _pinnedAliases)
            {
                if (address >= theirs && address - theirs <= size && length <= size - (address - theirs))
                {
                    local = ours + (address - theirs);
                    return true;
                }
            }
        }
        return false;
    }

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
