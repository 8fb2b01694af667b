using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Access;

/// <summary>
/// The mock access drops exactly the items an unmap overlaps, and finds them without looking at
/// every pin outstanding: an unmap costs the same however many other pins exist.
/// </summary>
public sealed class MockAccessUnmapTests
{
    private const ulong Page = 4096, UserBase = 0x10_0000, IovaBase = 0x10000;
    private const int Areas = 32;

    private readonly SimulatedUserMemory _memory = new();
    private readonly IommufdContext _context;
    private readonly IoasId _ioas;
    private readonly MockAccess _mock = new();
    private readonly IommuFd.Core.Objects.Access _access;

    public MockAccessUnmapTests()
    {
        _memory.Map(UserBase, Areas * Page);
        _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        for (var i = 0UL; i < Areas; i++)
        {
            var iova = IovaBase + i * Page;
            _context.Map(_ioas, UserBase + i * Page, Page, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
        }
        _context.CreateAccess(_ioas, true, _mock, out _access).ThrowIfError("access");
        _mock.Access = _access;
    }

    private void PinItem(ulong firstArea, ulong pages)
    {
        _access.Pin(IovaBase + firstArea * Page, pages * Page, write: true, out var pin).ThrowIfError("pin");
        _mock.AddItem(pin!);
    }

    private void UnmapArea(ulong area)
    {
        Assert.Equal(Errno.Ok, _context.Unmap(_ioas, IovaBase + area * Page, Page, out var unmapped));
        Assert.Equal(Page, unmapped);
    }

    [Fact]
    public void An_unmap_looks_only_at_items_that_can_reach_it()
    {
        for (var i = 0UL; i < Areas; i++)
            PinItem(i, 1);
        UnmapArea(20);
        Assert.Equal(Areas - 1, _mock.ItemCount);
        Assert.Equal(1, _mock.LastUnmapExamined);
        Assert.Equal(0UL, _memory.PinCount(UserBase + 20 * Page));
        Assert.Equal(1UL, _memory.PinCount(UserBase + 19 * Page));
        Assert.Equal(1UL, _memory.PinCount(UserBase + 21 * Page));
        Assert.Equal(Errno.ENOENT, _mock.DestroyItem(20));
        Assert.Equal(Errno.Ok, _mock.DestroyItem(21));
    }

    [Fact]
    public void A_long_item_starting_before_the_unmap_is_dropped()
    {
        for (var i = 10UL; i < Areas; i++)
            PinItem(i, 1);
        PinItem(2, 4); // areas 2..5, id 22
        UnmapArea(5);
        Assert.Equal(Areas - 10, _mock.ItemCount);
        Assert.True(_mock.LastUnmapExamined <= 4, $"examined {_mock.LastUnmapExamined}");
        Assert.Equal(Errno.ENOENT, _mock.DestroyItem((uint)(Areas - 10)));
        Assert.Equal(0UL, _memory.PinCount(UserBase + 2 * Page));
        UnmapArea(9); // nothing pinned there
        Assert.Equal(Areas - 10, _mock.ItemCount);
        Assert.Equal(Errno.Ok, _mock.DestroyItem(0));
    }
}
