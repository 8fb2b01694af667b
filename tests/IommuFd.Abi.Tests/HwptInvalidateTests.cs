using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_HWPT_INVALIDATE (hw_pagetable.c iommufd_hwpt_invalidate): only nested HWPTs and vIOMMUs
/// take invalidations, and entry_num always goes back to the caller, 0 when nothing was done.
/// </summary>
public sealed class HwptInvalidateTests : IDisposable
{
    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _dev;
    private readonly ulong _entries;

    public HwptInvalidateTests()
    {
        _ioas = _s.AllocIoas();
        _dev = _s.AddMock(_ioas);
        _entries = _s.Heap.Alloc(64);
    }

    public void Dispose() => _s.Dispose();

    private Errno Invalidate(IommuHwptInvalidate cmd, out IommuHwptInvalidate after)
    {
        var rc = _s.Ioctl(ref cmd);
        after = cmd;
        return rc;
    }

    [Fact]
    public void Reserved_field_is_EOPNOTSUPP_and_entry_num_becomes_0()
    {
        Assert.Equal(Errno.EOPNOTSUPP, Invalidate(DevCmd.Invalidate(_dev.Hwpt, _entries, 0xdeadbeef, 8, 2) with { Reserved = 1 }, out var after));
        Assert.Equal(0u, after.EntryNum);
        Assert.Equal(Errno.EOPNOTSUPP, Invalidate(DevCmd.Invalidate(999, entryNum: 5) with { Reserved = 0x8000_0000 }, out after));
        Assert.Equal(0u, after.EntryNum);
    }

    [Fact]
    public void Entries_without_an_array_are_EINVAL_and_entry_num_becomes_0()
    {
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(_dev.Hwpt, 0, 0xdeadbeef, 8, 1), out var after));
        Assert.Equal(0u, after.EntryNum);
        // Before the lookup.
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(999, 0, 0xdeadbeef, 8, 3), out after));
        Assert.Equal(0u, after.EntryNum);
        // A zero entry length is as bad as a missing array.
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(999, _entries, 0xdeadbeef, 0, 3), out after));
        Assert.Equal(0u, after.EntryNum);
    }

    [Fact]
    public void Unknown_id_is_ENOENT_and_entry_num_becomes_0()
    {
        Assert.Equal(Errno.ENOENT, Invalidate(DevCmd.Invalidate(0), out var after));
        Assert.Equal(0u, after.EntryNum);
        Assert.Equal(Errno.ENOENT, Invalidate(DevCmd.Invalidate(999, _entries, 0xdeadbeef, 8, 2), out after));
        Assert.Equal(0u, after.EntryNum);
        // No entries with no array passes the first checks and is then looked up.
        Assert.Equal(Errno.ENOENT, Invalidate(DevCmd.Invalidate(999, 0, 0, 0, 0), out _));
    }

    [Fact]
    public void Paging_hwpt_is_EINVAL_and_entry_num_becomes_0()
    {
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(_dev.Hwpt, _entries, 0xdeadbeef, 8, 2), out var after));
        Assert.Equal(0u, after.EntryNum);
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(_dev.Hwpt), out after));
        var manual = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptNestParent);
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(manual, _entries, 0xdeadbeef, 8, 1), out after));
        Assert.Equal(0u, after.EntryNum);
    }

    [Fact]
    public void Other_object_kinds_are_EINVAL()
    {
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(_ioas), out _));
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(_dev.Idev), out _));
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(_dev.Stdev), out _));
    }

    [Fact]
    public void Entry_num_is_written_even_when_the_caller_set_it()
    {
        // The struct is written back in full on failure: entry_num = 0, the rest as it was.
        var arg = _s.Heap.Place(DevCmd.Invalidate(_dev.Hwpt, _entries, 0xdeadbeef, 8, 7));
        Assert.Equal(Errno.EINVAL, _s.IoctlAt<IommuHwptInvalidate>(arg, out var after));
        Assert.Equal(DevCmd.Invalidate(_dev.Hwpt, _entries, 0xdeadbeef, 8, 0), after);
    }

    [Fact]
    public void Failing_to_write_entry_num_back_is_EFAULT_whatever_the_handler_said()
    {
        // hw_pagetable.c: `if (iommufd_ucmd_respond(ucmd, sizeof(*cmd))) return -EFAULT; return rc;`
        // The last 8 bytes (entry_num, __reserved) sit on a read-only page: they read as 0, so the
        // command is a plain lookup of an unknown ID (ENOENT), and then the write-back fails.
        var arg = _s.Heap.AllocStraddlingReadOnly(24);
        _s.Heap.WritePrefix(arg, DevCmd.Invalidate(999, _entries, 0xdeadbeef, 8), 24);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.HwptInvalidate, arg));
        // Same with the paging HWPT (EINVAL from the handler).
        arg = _s.Heap.AllocStraddlingReadOnly(24);
        _s.Heap.WritePrefix(arg, DevCmd.Invalidate(_dev.Hwpt, _entries, 0xdeadbeef, 8), 24);
        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.HwptInvalidate, arg));
    }

    [Fact]
    public void Size_31_is_EINVAL() =>
        Assert.Equal(Errno.EINVAL, Invalidate(DevCmd.Invalidate(0) with { Size = 31 }, out _));
}
