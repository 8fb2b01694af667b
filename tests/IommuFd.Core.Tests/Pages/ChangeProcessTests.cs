using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Pages;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Pages;

/// <summary>
/// Per-process pin accounting and IOAS_CHANGE_PROCESS (pages.c, ioas.c): every pinned page counts
/// in its process's pinned pages (VmPin) in both modes, in its locked pages (VmLck) in process
/// mode, and CHANGE_PROCESS moves both to the caller, new owner charged first.
/// </summary>
public sealed class ChangeProcessTests
{
    private const ulong FileBase = 0x40_0000;
    private const ulong UserBase = 0x10_0000;
    private const int ChildPid = 0x7ff0_0001; // never touched as a process: nothing reads its memory here

    private readonly SimulatedUserMemory _memory = new();
    private readonly SimulatedFileRegistry _files;
    private readonly IommuHost _host;
    private readonly IommufdContext _context;
    private readonly IoasId _ioas;

    public ChangeProcessTests() : this(ulong.MaxValue)
    {
    }

    private ChangeProcessTests(ulong memlockBytes, AccountMode mode = AccountMode.User)
    {
        _files = new SimulatedFileRegistry(_memory);
        _memory.Map(UserBase, 16 * 4096);
        _host = new IommuHost(_memory, memlockBytes) { FileMemory = _files };
        _context = new IommufdContext(_host);
        _context.SetAccountMode((ulong)mode).ThrowIfError("mode");
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _context.Objects.Peek<Ioas>(_ioas).PageTable.AddDomain(new RecordingDomain(IovaRange.Everything)).ThrowIfError("domain");
    }

    private static ChangeProcessTests InMode(AccountMode mode, ulong memlockBytes = ulong.MaxValue) => new(memlockBytes, mode);

    private ulong MapFile(ulong pages, ulong at)
    {
        var fd = _files.AddFile(at, pages * 4096);
        var iova = 0UL;
        _context.MapFile(_ioas, fd, 0, pages * 4096, IoProt.Read | IoProt.Write, IovaPlacement.Automatic, ref iova).ThrowIfError("map file");
        return iova;
    }

    private ProcessPins Pins(int pid) => _host.TryGetProcessPins(pid, out var pins) ? pins : throw new InvalidOperationException($"pid {pid} unknown");

    [Theory]
    [InlineData(AccountMode.User, 0UL)]
    [InlineData(AccountMode.Process, 3UL)]
    public void Pins_count_in_the_process_pinned_pages_in_both_modes_and_locked_pages_in_process_mode(AccountMode mode, ulong locked)
    {
        var t = InMode(mode);
        t.MapFile(3, FileBase);
        Assert.Equal(new ProcessPins(3, locked), t.Pins(t._host.ProcessId));
        Assert.Equal(mode == AccountMode.User ? 3UL : 0UL, t._host.UserAccount.UsedPages);
        Assert.Equal(Errno.Ok, t._context.Unmap(t._ioas, 0, ulong.MaxValue, out _));
        Assert.Equal(new ProcessPins(0, 0), t.Pins(t._host.ProcessId));
    }

    [Fact]
    public void A_process_never_charged_or_served_is_unknown()
    {
        Assert.False(_host.TryGetProcessPins(ChildPid, out _));
        _host.ForChildProcess(ChildPid);
        Assert.True(_host.TryGetProcessPins(ChildPid, out var pins));
        Assert.Equal(default, pins);
        Assert.Same(_host.ForChildProcess(ChildPid), _host.ForChildProcess(ChildPid));
    }

    [Theory]
    [InlineData(AccountMode.User)]
    [InlineData(AccountMode.Process)]
    public void Change_process_moves_the_charge_to_the_caller_and_unmap_uncharges_it_there(AccountMode mode)
    {
        var t = InMode(mode);
        t.MapFile(2, FileBase);
        var child = t._host.ForChildProcess(ChildPid);
        Assert.Equal(Errno.Ok, t._context.ChangeProcess(child));
        var locked = mode == AccountMode.Process ? 2UL : 0UL;
        Assert.Equal(new ProcessPins(0, 0), t.Pins(t._host.ProcessId));
        Assert.Equal(new ProcessPins(2, locked), t.Pins(ChildPid));
        // Same user: the user's account holds the pages once, before and after.
        Assert.Equal(mode == AccountMode.User ? 2UL : 0UL, t._host.UserAccount.UsedPages);
        Assert.Equal(Errno.Ok, t._context.Unmap(t._ioas, 0, ulong.MaxValue, out _));
        Assert.Equal(new ProcessPins(0, 0), t.Pins(ChildPid));
        Assert.Equal(0UL, t._host.UserAccount.UsedPages);
    }

    [Fact]
    public void Change_process_by_the_owner_changes_nothing()
    {
        MapFile(2, FileBase);
        Assert.Equal(Errno.Ok, _context.ChangeProcess());
        Assert.Equal(new ProcessPins(2, 0), Pins(_host.ProcessId));
        Assert.Equal(2UL, _host.UserAccount.UsedPages);
    }

    [Fact]
    public void Shared_pages_of_a_copy_move_once()
    {
        var iova = MapFile(2, FileBase);
        _context.CreateIoas(out var other).ThrowIfError("ioas");
        var dst = 0UL;
        _context.Copy(other, _ioas, iova, 2 * 4096, IoProt.Read, IovaPlacement.Automatic, ref dst).ThrowIfError("copy");
        Assert.Equal(Errno.Ok, _context.ChangeProcess(_host.ForChildProcess(ChildPid)));
        Assert.Equal(new ProcessPins(2, 0), Pins(ChildPid));
        Assert.Equal(new ProcessPins(0, 0), Pins(_host.ProcessId));
    }

    [Fact]
    public void Any_process_memory_mapping_is_EINVAL_and_nothing_moves()
    {
        MapFile(1, FileBase);
        var iova = 0UL;
        _context.Map(_ioas, UserBase, 4096, IoProt.Read, IovaPlacement.Automatic, ref iova).ThrowIfError("map");
        Assert.Equal(Errno.EINVAL, _context.ChangeProcess(_host.ForChildProcess(ChildPid)));
        Assert.Equal(new ProcessPins(2, 0), Pins(_host.ProcessId));
        Assert.Equal(new ProcessPins(0, 0), Pins(ChildPid));
    }

    [Fact]
    public void The_new_owner_is_charged_first_so_a_shared_user_needs_room_for_both()
    {
        // Two pages charged to the user, whose limit is three: charging the new owner first needs four.
        var t = new ChangeProcessTests(3 * 4096);
        t.MapFile(2, FileBase);
        Assert.Equal(Errno.ENOMEM, t._context.ChangeProcess(t._host.ForChildProcess(ChildPid)));
        Assert.Equal(new ProcessPins(2, 0), t.Pins(t._host.ProcessId));
        Assert.Equal(new ProcessPins(0, 0), t.Pins(ChildPid));
        Assert.Equal(2UL, t._host.UserAccount.UsedPages);
    }

    [Fact]
    public void A_refused_move_undoes_the_moves_made_before_it()
    {
        // Process mode, limit 3 pages: the child already holds 1, so one of the two mappings fits and the other does not.
        var t = InMode(AccountMode.Process, 3 * 4096);
        t.MapFile(1, FileBase);
        t.MapFile(2, FileBase + 0x10_0000);
        var child = t._host.ForChildProcess(ChildPid);
        child.ProcessAccount.TryCharge(1).ThrowIfError("child's own lock");
        Assert.Equal(Errno.ENOMEM, t._context.ChangeProcess(child));
        Assert.Equal(new ProcessPins(3, 3), t.Pins(t._host.ProcessId));
        Assert.Equal(new ProcessPins(0, 1), t.Pins(ChildPid));
        Assert.Equal(Errno.Ok, t._context.Unmap(t._ioas, 0, ulong.MaxValue, out _));
        Assert.Equal(new ProcessPins(0, 0), t.Pins(t._host.ProcessId));
    }
}
