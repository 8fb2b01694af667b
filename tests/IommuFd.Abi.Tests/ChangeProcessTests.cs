using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.Memory;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_IOAS_CHANGE_PROCESS (ioas.c iommufd_ioas_change_process): only file-backed mappings can
/// move to another process, so any plain MAP anywhere in the context refuses it; what moves is the
/// charge for the pinned pages, to the process making the call.
/// </summary>
public sealed class ChangeProcessTests : IDisposable
{
    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    private Errno ChangeProcess(uint reserved = 0)
    {
        var cmd = DevCmd.ChangeProcess(reserved);
        return _s.Ioctl(ref cmd);
    }

    [Fact]
    public void Empty_context_succeeds()
    {
        Assert.Equal(Errno.Ok, ChangeProcess());
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    [Fact]
    public void Ioases_without_mappings_succeed()
    {
        var ioas = _s.AllocIoas();
        _s.AllocIoas();
        _s.AddMock(ioas);
        Assert.Equal(Errno.Ok, ChangeProcess());
    }

    [Fact]
    public void Reserved_field_is_EOPNOTSUPP()
    {
        Assert.Equal(Errno.EOPNOTSUPP, ChangeProcess(1));
        Assert.Equal(Errno.EOPNOTSUPP, ChangeProcess(0x8000_0000));
    }

    [Fact]
    public void Any_plain_map_is_EINVAL()
    {
        _s.AllocIoas();
        var ioas = _s.AllocIoas();
        _s.MapFixed(ioas, 0x10_0000, 0x7a00_0000_0000, 0x1000);
        Assert.Equal(Errno.EINVAL, ChangeProcess());
        // The mapping is untouched, and once it is gone the call succeeds.
        Assert.Single(_s.Mappings(ioas));
        Assert.Equal(Errno.Ok, _s.Unmap(ioas, 0, ulong.MaxValue, out _));
        Assert.Equal(Errno.Ok, ChangeProcess());
    }

    [Fact]
    public void Plain_map_with_a_domain_is_EINVAL_and_keeps_the_pins()
    {
        var ioas = _s.AllocIoas();
        _s.AddMock(ioas);
        var buffer = _s.Heap.Alloc(0x4000);
        _s.MapFixed(ioas, Mock.ApertureStart, buffer, 0x4000);
        Assert.Equal(Errno.EINVAL, ChangeProcess());
        Assert.Equal(Errno.Ok, _s.CheckRefs(buffer, 0x4000, 1));
    }

    [Fact]
    public void Copied_mapping_is_still_a_plain_one()
    {
        var src = _s.AllocIoas();
        var dst = _s.AllocIoas();
        _s.MapFixed(src, 0x10_0000, 0x7a00_0000_0000, 0x1000);
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(dst, src, 0x10_0000, 0x1000), out _));
        Assert.Equal(Errno.Ok, _s.Unmap(src, 0, ulong.MaxValue, out _));
        Assert.Equal(Errno.EINVAL, ChangeProcess());
    }

    [Fact]
    public void Size_7_is_EINVAL()
    {
        var cmd = DevCmd.ChangeProcess() with { Size = 7 };
        Assert.Equal(Errno.EINVAL, _s.Ioctl(ref cmd));
    }

    /// <summary>A one-file IFileMemory over the session's simulated memory (descriptor 42).</summary>
    private sealed class OneFile : IFileMemory, IDisposable
    {
        public const int Fd = 42;
        private readonly ulong _address;
        private readonly ulong _length;

        public OneFile(SimulatedUserMemory memory, ulong address, ulong length)
        {
            memory.Map(address, length);
            (_address, _length) = (address, length);
        }

        public Errno MapFile(int fd, ulong start, ulong bytes, bool writable, out ulong at, out IDisposable mapping)
        {
            at = _address + start;
            mapping = this;
            return fd != Fd ? Errno.EBADF : start <= _length && bytes <= _length - start ? Errno.Ok : Errno.EINVAL;
        }

        public void Dispose()
        {
        }
    }

    /// <summary>A mock-attached IOAS with <paramref name="pages"/> pages of the file mapped (so pinned).</summary>
    private uint PinnedFileMapping(ulong pages)
    {
        _s.Host.FileMemory = new OneFile(_s.Memory, 0x7b00_0000_0000, pages * 0x1000);
        var ioas = _s.AllocIoas();
        _s.AddMock(ioas);
        var cmd = new IommuIoasMapFile { Size = Header.IoasMapFileSize, Flags = Header.ReadWrite, IoasId = ioas, Fd = OneFile.Fd, Length = pages * 0x1000 };
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        return ioas;
    }

    /// <summary>CHANGE_PROCESS issued by another process sharing the context (this one, seen as foreign).</summary>
    private unsafe Errno ChangeProcessAs(IommuHost caller, uint reserved = 0)
    {
        var cmd = DevCmd.ChangeProcess(reserved);
        return (Errno)(-IoctlDispatcher.Ioctl(_s.Context, caller, Header.IoasChangeProcess, (nint)(&cmd)));
    }

    [Fact]
    public void The_charge_moves_to_the_calling_process()
    {
        PinnedFileMapping(3);
        Assert.Equal(3UL, _s.Host.PinnedAccount.UsedPages);
        var caller = _s.Host.ForChildProcess(Environment.ProcessId);
        Assert.Equal(Errno.Ok, ChangeProcessAs(caller));
        Assert.Equal(0UL, _s.Host.PinnedAccount.UsedPages);
        Assert.Equal(3UL, caller.PinnedAccount.UsedPages);
        // And back, by the context's own process.
        Assert.Equal(Errno.Ok, ChangeProcess());
        Assert.Equal((3UL, 0UL), (_s.Host.PinnedAccount.UsedPages, caller.PinnedAccount.UsedPages));
    }

    [Fact]
    public void Reserved_field_refuses_before_anything_moves()
    {
        PinnedFileMapping(1);
        var caller = _s.Host.ForChildProcess(Environment.ProcessId);
        Assert.Equal(Errno.EOPNOTSUPP, ChangeProcessAs(caller, reserved: 1));
        Assert.Equal((1UL, 0UL), (_s.Host.PinnedAccount.UsedPages, caller.PinnedAccount.UsedPages));
    }

    [Fact]
    public void Process_mode_moves_the_locked_pages_too()
    {
        Assert.Equal(Errno.Ok, _s.SetOption(Header.OptionRlimitMode, 1));
        PinnedFileMapping(2);
        Assert.Equal(2UL, _s.Host.ProcessAccount.UsedPages);
        var caller = _s.Host.ForChildProcess(Environment.ProcessId);
        Assert.Equal(Errno.Ok, ChangeProcessAs(caller));
        Assert.Equal((0UL, 2UL), (_s.Host.ProcessAccount.UsedPages, caller.ProcessAccount.UsedPages));
    }
}
