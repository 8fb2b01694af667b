using System.Runtime.InteropServices;
using IommuFd.Core.Memory;
using IommuFd.Core.Pages;

namespace IommuFd.Core;

/// <summary>
/// What every context of one emulated "machine" shares: the user memory that ioctls point into
/// and the memory-lock accounts pins are charged to (per user and per process, as in Linux).
/// </summary>
public sealed partial class IommuHost
{
    /// <summary>A host over <paramref name="memory"/> whose accounts may lock <paramref name="memlockLimitBytes"/> (<c>ulong.MaxValue</c>: unlimited).</summary>
    public IommuHost(IUserMemory memory, ulong memlockLimitBytes)
    {
        Memory = memory;
        _limitPages = memlockLimitBytes == ulong.MaxValue ? ulong.MaxValue : memlockLimitBytes >> CpuPage.Shift;
        UserAccount = new MemlockAccount("user", _limitPages);
        ProcessAccount = new MemlockAccount("process", _limitPages);
    }

    private IommuHost(IUserMemory memory, MemlockAccount userAccount, ulong limitPages, int processId)
    {
        Memory = memory;
        ProcessId = processId;
        _limitPages = limitPages;
        UserAccount = userAccount;
        ProcessAccount = new MemlockAccount("process", limitPages);
    }

    private readonly ulong _limitPages;
    private readonly System.Collections.Concurrent.ConcurrentDictionary<int, IommuHost> _children = new();

    /// <summary>
    /// The host seen by a child forked from this process that issues ioctls through an inherited
    /// fd: its own memory and process account, the same user account (same user, as in Linux).
    /// Its file descriptors are not ours, so MAP_FILE through it finds none (EBADF), and it cannot
    /// be handed a new object fd. One per pid, so the process's pinned pages are counted in one
    /// place however many of its calls arrive (<see cref="TryGetProcessPins"/>).
    /// </summary>
    public IommuHost ForChildProcess(int pid) =>
        _children.GetOrAdd(pid, static (id, parent) =>
            new IommuHost(ProcessUserMemory.ForProcess(id), parent.UserAccount, parent._limitPages, id)
            {
                Files = new Objects.ForeignProcessFiles(parent.Files),
            }, this);

    /// <summary>The process this host stands for (the pid whose <c>/proc/&lt;pid&gt;/status</c> shows <see cref="PinnedAccount"/>).</summary>
    public int ProcessId { get; } = Environment.ProcessId;

    /// <summary>
    /// The emulated kernel's per-process figures for <paramref name="pid"/>: this host's process
    /// or a child it served. False for a process it never charged or served.
    /// </summary>
    public bool TryGetProcessPins(int pid, out ProcessPins pins)
    {
        var host = pid == ProcessId ? this : _children.GetValueOrDefault(pid);
        pins = host is null ? default : new ProcessPins(host.PinnedAccount.UsedPages, host.ProcessAccount.UsedPages);
        return host is not null;
    }

    /// <summary>The host for programs running under the shim: this process's memory and RLIMIT_MEMLOCK.</summary>
    public static IommuHost ForThisProcess() =>
        new(ProcessUserMemory.Instance, ProcessMemlockLimit()) { FileMemory = ProcessFileMemory.Instance };

    /// <summary>The user memory that user addresses in ioctls refer to.</summary>
    public IUserMemory Memory { get; }

    /// <summary>How file descriptors given to IOMMU_IOAS_MAP_FILE become memory; none for simulated hosts.</summary>
    public IFileMemory FileMemory { get; set; } = NoFileMemory.Instance;

    /// <summary>Descriptors for objects that live behind a file (access, fault queue); simulated unless the shim provides real ones.</summary>
    public Objects.IObjectFiles Files { get; set; } = new Objects.SimulatedObjectFiles();

    /// <summary>The user's memory-lock account: pins charged in user mode (the default).</summary>
    public MemlockAccount UserAccount { get; }

    /// <summary>This process's memory-lock account: pins charged in process mode (<c>VmLck</c>).</summary>
    public MemlockAccount ProcessAccount { get; }

    /// <summary>Every page pinned for this process whatever the mode (the kernel's pinned_vm, <c>VmPin</c>); never limited.</summary>
    public MemlockAccount PinnedAccount { get; } = new("pinned", ulong.MaxValue);

    /// <summary>The account pins are charged to in <paramref name="mode"/>.</summary>
    public MemlockAccount AccountFor(AccountMode mode) => mode == AccountMode.Process ? ProcessAccount : UserAccount;

    /// <summary>
    /// RLIMIT_MEMLOCK, or unlimited for root: the kernel skips the check for CAP_IPC_LOCK,
    /// and root holds it.
    /// </summary>
    private static ulong ProcessMemlockLimit()
    {
        if (GetEuid() == 0)
            return ulong.MaxValue;
        Span<ulong> limits = stackalloc ulong[2];
        unsafe
        {
            fixed (ulong* p = limits)
                if (GetRlimit(RlimitMemlock, p) != 0)
                    return ulong.MaxValue;
        }
        return limits[0];
    }

    private const int RlimitMemlock = 8;

    [LibraryImport("libc", EntryPoint = "getrlimit")]
    private static unsafe partial int GetRlimit(int resource, ulong* limits);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint GetEuid();
}
