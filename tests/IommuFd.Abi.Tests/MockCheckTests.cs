using IommuFd.Abi.Tests.Infrastructure;
using IommuFd.Core;

namespace IommuFd.Abi.Tests;

/// <summary>
/// IOMMU_TEST_OP_MD_CHECK_MAP (what a mock domain translates an IOVA to) and MD_CHECK_REFS (how
/// many long-term pins a user page carries), driven by IOAS_MAP / COPY / UNMAP with mock domains.
/// </summary>
public sealed class MockCheckTests : IDisposable
{
    private const ulong BufferSize = 0x10000;
    private const ulong Iova = Mock.ApertureStart;

    private readonly AbiSession _s = new();
    private readonly uint _ioas;
    private readonly MockIds _dev;
    private readonly ulong _buffer;

    public MockCheckTests()
    {
        _ioas = _s.AllocIoas();
        _dev = _s.AddMock(_ioas);
        _buffer = _s.Heap.Alloc(BufferSize);
    }

    public void Dispose() => _s.Dispose();

    // ---- MD_CHECK_MAP ----

    [Fact]
    public void Check_map_confirms_a_fixed_mapping()
    {
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        Assert.Equal(Errno.Ok, _s.CheckMap(_dev.Hwpt, Iova, BufferSize, _buffer));
        // Any 2048-aligned piece of it.
        Assert.Equal(Errno.Ok, _s.CheckMap(_dev.Hwpt, Iova + 0x800, 0x800, _buffer + 0x800));
        Assert.Equal(Errno.Ok, _s.CheckMap(_dev.Hwpt, Iova + 0x3800, 0x1000, _buffer + 0x3800));
        // Length 0 checks nothing.
        Assert.Equal(Errno.Ok, _s.CheckMap(_dev.Hwpt, Iova, 0, _buffer));
    }

    [Fact]
    public void Check_map_confirms_an_automatic_mapping()
    {
        var iova = _s.MapAuto(_ioas, _buffer, BufferSize);
        Assert.InRange(iova, Mock.ApertureStart, Mock.ApertureLast);
        Assert.Equal(Errno.Ok, _s.CheckMap(_dev.Hwpt, iova, BufferSize, _buffer));
    }

    [Fact]
    public void Check_map_with_the_wrong_user_address_is_EINVAL()
    {
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova, 0x1000, _buffer + 0x1000));
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova + 0x1000, 0x1000, _buffer));
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova, 0x800, _buffer + 0x800));
    }

    [Fact]
    public void Check_map_running_past_the_mapping_is_EINVAL()
    {
        // The user memory goes on, the IOVA mapping does not: the IOVA after it translates to nothing.
        var big = _s.Heap.Alloc(2 * BufferSize);
        _s.MapFixed(_ioas, Iova, big, BufferSize);
        Assert.Equal(Errno.Ok, _s.CheckMap(_dev.Hwpt, Iova, BufferSize, big));
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova + BufferSize - 0x1000, 0x2000, big + BufferSize - 0x1000));
    }

    [Fact]
    public void Check_map_of_an_unmapped_iova_is_EINVAL()
    {
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova, 0x1000, _buffer));
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, Iova, BufferSize, out _));
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova, 0x1000, _buffer));
    }

    [Theory]
    [InlineData(1ul, 0ul, 0x800ul)]
    [InlineData(0x400ul, 0ul, 0x800ul)]
    [InlineData(0ul, 0ul, 1ul)]
    [InlineData(0ul, 0ul, 0x400ul)]
    [InlineData(0ul, 0ul, 0x7fffUL)]
    [InlineData(0ul, 1ul, 0x800ul)]
    [InlineData(0ul, 0x7fful, 0x800ul)]
    public void Check_map_not_aligned_to_the_mock_page_is_EINVAL(ulong iovaDelta, ulong uptrDelta, ulong length)
    {
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova + iovaDelta, length, _buffer + uptrDelta));
    }

    [Fact]
    public void Check_map_whose_user_range_wraps_is_EINVAL()
    {
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova, 0x1000, 0xffff_ffff_ffff_f800));
    }

    [Fact]
    public void Check_map_on_anything_but_a_paging_hwpt_is_ENOENT()
    {
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        Assert.Equal(Errno.ENOENT, _s.CheckMap(_ioas, Iova, 0x1000, _buffer));
        Assert.Equal(Errno.ENOENT, _s.CheckMap(_dev.Idev, Iova, 0x1000, _buffer));
        Assert.Equal(Errno.ENOENT, _s.CheckMap(_dev.Stdev, Iova, 0x1000, _buffer));
        Assert.Equal(Errno.ENOENT, _s.CheckMap(0, Iova, 0x1000, _buffer));
        Assert.Equal(Errno.ENOENT, _s.CheckMap(999, Iova, 0x1000, _buffer));
        // The target kernel looks the object up before it checks alignment.
        Assert.Equal(Errno.ENOENT, _s.CheckMap(999, Iova + 1, 3, _buffer + 5));
    }

    [Fact]
    public void Check_map_over_unmapped_user_memory_is_EFAULT()
    {
        // The IOVA translates to nothing there either, but the page behind uptr is looked up first.
        Assert.Equal(Errno.EFAULT, _s.CheckMap(_dev.Hwpt, Iova, 0x1000, UserHeap.UnmappedPointer));
    }

    [Fact]
    public void Map_of_unmapped_user_memory_with_a_domain_is_EFAULT_and_maps_nothing()
    {
        Assert.Equal(Errno.EFAULT, _s.Map(Cmd.MapFixed(_ioas, Iova, UserHeap.UnmappedPointer, 0x4000), out _));
        // Half mapped: the heap leaves an unmapped guard page after every block.
        Assert.Equal(Errno.EFAULT, _s.Map(Cmd.MapFixed(_ioas, Iova, _buffer, BufferSize + 0x1000), out _));
        Assert.Empty(_s.Mappings(_ioas));
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 0));
        Assert.Equal(Errno.EINVAL, _s.CheckMap(_dev.Hwpt, Iova, 0x800, _buffer));
    }

    [Fact]
    public void Check_map_on_a_second_device_sees_the_same_shared_domain()
    {
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        var second = _s.AddMock(_ioas);
        Assert.Equal(_dev.Hwpt, second.Hwpt);
        Assert.Equal(Errno.Ok, _s.CheckMap(second.Hwpt, Iova, BufferSize, _buffer));
        Assert.Equal(Errno.Ok, _s.Destroy(second.Stdev));
        Assert.Equal(Errno.Ok, _s.CheckMap(_dev.Hwpt, Iova, BufferSize, _buffer));
    }

    // ---- MD_CHECK_REFS ----

    [Fact]
    public void Refs_are_zero_before_and_one_while_mapped_with_a_domain()
    {
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 0));
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 1));
        Assert.Equal(Errno.EIO, _s.CheckRefs(_buffer, BufferSize, 0));
        Assert.Equal(Errno.EIO, _s.CheckRefs(_buffer, BufferSize, 2));
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, Iova, BufferSize, out _));
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 0));
    }

    [Fact]
    public void Refs_count_pages_not_domains()
    {
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        _s.AddMock(_ioas);
        _s.AddMock(_dev.Hwpt);
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 1));
    }

    [Fact]
    public void Refs_stay_one_after_copy_into_another_domain_backed_ioas()
    {
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        var dst = _s.AllocIoas();
        var dstDev = _s.AddMock(dst);
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(dst, _ioas, Iova, BufferSize, Iova + 0x10_0000, Header.ReadWrite | Header.FixedIova), out _));

        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 1));
        Assert.Equal(Errno.Ok, _s.CheckMap(dstDev.Hwpt, Iova + 0x10_0000, BufferSize, _buffer));

        // The copy keeps the pages pinned after the source goes; they go with the copy.
        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, Iova, BufferSize, out _));
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 1));
        Assert.Equal(Errno.Ok, _s.Unmap(dst, 0, ulong.MaxValue, out var unmapped));
        Assert.Equal(BufferSize, unmapped);
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 0));
    }

    [Fact]
    public void Two_independent_maps_of_the_same_memory_pin_it_twice()
    {
        // Each IOAS_MAP makes its own iopt_pages, so the pins add up (unlike COPY, which shares them).
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        _s.MapFixed(_ioas, Iova + 0x10_0000, _buffer, BufferSize);
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 2));

        var other = _s.AllocIoas();
        _s.AddMock(other);
        _s.MapFixed(other, Iova, _buffer, 0x4000);
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, 0x4000, 3));
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer + 0x4000, BufferSize - 0x4000, 2));

        Assert.Equal(Errno.Ok, _s.Unmap(_ioas, 0, ulong.MaxValue, out _));
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, 0x4000, 1));
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer + 0x4000, BufferSize - 0x4000, 0));
    }

    [Fact]
    public void Refs_drop_to_zero_when_a_context_with_manual_hwpts_is_closed()
    {
        using var other = _s.OpenAnother();
        var manual = _s.AllocHwpt(_dev.Idev, _ioas, Mock.HwptNestParent);
        Assert.Equal(Errno.Ok, _s.MockReplace(_dev.Stdev, manual, out _));
        _s.AddMock(_ioas);
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        Assert.Equal(Errno.Ok, _s.CheckMap(manual, Iova, BufferSize, _buffer));
        Assert.Equal(Errno.Ok, other.CheckRefs(_buffer, BufferSize, 1));

        _s.Dispose();

        Assert.Equal(Errno.Ok, other.CheckRefs(_buffer, BufferSize, 0));
        Assert.Equal(0, _s.Context.Objects.Count);
    }

    [Fact]
    public void Refs_are_zero_for_a_mapping_without_any_domain()
    {
        var bare = _s.AllocIoas();
        _s.MapFixed(bare, 0x10_0000, _buffer, BufferSize);
        Assert.Equal(Errno.Ok, _s.CheckRefs(_buffer, BufferSize, 0));
    }

    [Fact]
    public void Refs_drop_to_zero_when_the_context_is_closed()
    {
        using var other = _s.OpenAnother();
        _s.MapFixed(_ioas, Iova, _buffer, BufferSize);
        var copyDst = _s.AllocIoas();
        _s.AddMock(copyDst);
        Assert.Equal(Errno.Ok, _s.Copy(Cmd.Copy(copyDst, _ioas, Iova, BufferSize), out _));
        Assert.Equal(Errno.Ok, other.CheckRefs(_buffer, BufferSize, 1));

        _s.Dispose();

        // teardown_iommufd: a fresh fd sees no page of the buffer pinned any more.
        Assert.Equal(Errno.Ok, other.CheckRefs(_buffer, BufferSize, 0));
    }

    [Theory]
    [InlineData(1ul, 0x1000ul)]
    [InlineData(0x800ul, 0x1000ul)]
    [InlineData(0ul, 0x800ul)]
    [InlineData(0ul, 0x1001ul)]
    public void Refs_not_page_aligned_are_EINVAL(ulong delta, ulong length) =>
        Assert.Equal(Errno.EINVAL, _s.CheckRefs(_buffer + delta, length, 0));

    [Fact]
    public void Refs_whose_range_wraps_are_EINVAL() =>
        Assert.Equal(Errno.EINVAL, _s.CheckRefs(0xffff_ffff_ffff_f000, 0x2000, 0));

    [Fact]
    public void Refs_over_unmapped_user_memory_are_EFAULT()
    {
        Assert.Equal(Errno.EFAULT, _s.CheckRefs(UserHeap.UnmappedPointer, 0x1000, 0));
        // The guard page after the buffer.
        Assert.Equal(Errno.EFAULT, _s.CheckRefs(_buffer, BufferSize + 0x1000, 0));
    }

    [Fact]
    public void Refs_ignore_the_id_field()
    {
        var cmd = DevCmd.Test(Mock.OpMdCheckRefs, 0xdead);
        cmd.CheckRefs = new() { Length = BufferSize, Uptr = _buffer, Refs = 0 };
        Assert.Equal(Errno.Ok, _s.Ioctl(ref cmd));
    }
}
