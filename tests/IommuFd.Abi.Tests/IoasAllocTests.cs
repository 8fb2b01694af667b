using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Abi.Uapi;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>IOMMU_IOAS_ALLOC (ioas.c iommufd_ioas_alloc_ioctl).</summary>
public sealed class IoasAllocTests : IDisposable
{
    private readonly AbiSession _s = new();

    public void Dispose() => _s.Dispose();

    [Theory]
    [InlineData(1u)]
    [InlineData(0x8000_0000u)]
    [InlineData(0xffff_ffffu)]
    public void Any_flag_is_EOPNOTSUPP(uint flags)
    {
        var cmd = Cmd.IoasAlloc(flags) with { OutIoasId = 0x1234 };
        Assert.Equal(Errno.EOPNOTSUPP, _s.Ioctl(ref cmd));
        Assert.Equal(0x1234u, cmd.OutIoasId);
        Assert.Equal(0, _s.Context.Objects.Count);
        // No ID was consumed.
        Assert.Equal(1u, _s.AllocIoas());
    }

    [Fact]
    public void Ids_start_at_one_and_are_written_back()
    {
        var cmd = Cmd.IoasAlloc() with { OutIoasId = 0xdead };
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(1u, cmd.OutIoasId);
        Assert.Equal(Header.SizeOf<IommuIoasAlloc>(), cmd.Size);
        Assert.Equal(0u, cmd.Flags);

        cmd = Cmd.IoasAlloc();
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
        Assert.Equal(2u, cmd.OutIoasId);
    }

    [Fact]
    public void New_ioas_is_usable_and_empty()
    {
        var id = _s.AllocIoas();
        Assert.Empty(_s.Mappings(id));
        Assert.Equal(Errno.Ok, _s.Unmap(id, 0, ulong.MaxValue, out var unmapped));
        Assert.Equal(0ul, unmapped);
    }

    [Fact]
    public void Failed_copy_back_is_EFAULT_and_leaves_no_object()
    {
        // The size field sits in a writable page, the rest of the struct in a read-only one:
        // the struct is read (flags = 0, out id = 0) but the ID cannot be written back. The
        // kernel aborts the new object (iommufd_object_abort_and_destroy), freeing its ID.
        var arg = _s.Heap.AllocStraddlingReadOnly(4);
        _s.Heap.Write(arg, (uint)Header.IoasAllocSize);

        Assert.Equal(Errno.EFAULT, _s.Ioctl(Header.IoasAlloc, arg));

        Assert.Equal(0, _s.Context.Objects.Count);
        Assert.Equal(Errno.ENOENT, _s.Destroy(1));
        Assert.Equal(1u, _s.AllocIoas());
    }

    [Fact]
    public void Many_ioas_get_consecutive_ids()
    {
        for (var i = 1u; i <= 40; i++)
            Assert.Equal(i, _s.AllocIoas());
        Assert.Equal(40, _s.Context.Objects.Count);
    }
}
