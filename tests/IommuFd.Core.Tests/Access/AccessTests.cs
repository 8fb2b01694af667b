using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Access;

/// <summary>Accesses pin and copy through the software copy, and let go when the user unmaps.</summary>
public sealed class AccessTests
{
    private const ulong UserBase = 0x10_0000;
    private readonly SimulatedUserMemory _memory = new();
    private readonly IommuHost _host;
    private readonly IommufdContext _context;
    private readonly IoasId _ioas;

    public AccessTests()
    {
        _memory.Map(UserBase, 32 * 4096);
        _memory.Map(0x40_0000, 4 * 4096, writable: false);
        _host = new IommuHost(_memory, ulong.MaxValue);
        _context = new IommufdContext(_host);
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
    }

    private void Map(ulong iova, ulong user, ulong length, IoProt prot = IoProt.Read | IoProt.Write) =>
        _context.Map(_ioas, user, length, prot, IovaPlacement.Fixed, ref iova).ThrowIfError("map");

    private (IommuFd.Core.Objects.Access Access, MockAccess Mock) NewAccess(bool pin = true)
    {
        var mock = new MockAccess();
        _context.CreateAccess(_ioas, pin, mock, out var access).ThrowIfError("access");
        mock.Access = access;
        return (access, mock);
    }

    [Fact]
    public void PinsAreCountedOnceAndReleasedByUnmap()
    {
        Map(0x10000, UserBase, 4 * 4096);
        var (access, mock) = NewAccess();
        Assert.Equal(4096UL, _context.Objects.Peek<Ioas>(_ioas).PageTable.IovaAlignment);
        Assert.Equal(Errno.Ok, access.Pin(0x11000, 2 * 4096, write: true, out var pin));
        Assert.Equal([UserBase + 4096, UserBase + 8192], pin!.UserPages);
        mock.AddItem(pin);
        Assert.Equal(Errno.Ok, access.Pin(0x11000, 4096, write: false, out var again));
        mock.AddItem(again!);
        Assert.Equal(1UL, _memory.PinCount(UserBase + 4096));
        Assert.Equal(2UL, _host.UserAccount.UsedPages);
        Assert.Equal(Errno.EBUSY, _context.Destroy(_ioas));

        // Unmapping asks the access to let go, then succeeds.
        Assert.Equal(Errno.Ok, _context.Unmap(_ioas, 0x10000, 4 * 4096, out var unmapped));
        Assert.Equal(4 * 4096UL, unmapped);
        Assert.Equal(0, mock.ItemCount);
        Assert.Equal(0UL, _memory.PinCount(UserBase + 4096));
        Assert.Equal(Errno.ENOENT, mock.DestroyItem(0));
    }

    [Fact]
    public void PinErrorsFollowTheKernelRules()
    {
        Map(0x10000, UserBase, 2 * 4096, IoProt.Read);
        var (access, _) = NewAccess();
        Assert.Equal(Errno.ENOENT, access.Pin(0x20000, 4096, false, out _));
        Assert.Equal(Errno.ENOENT, access.Pin(0x11000, 2 * 4096, false, out _));
        Assert.Equal(Errno.EPERM, access.Pin(0x10000, 4096, write: true, out _));
        Assert.Equal(Errno.EINVAL, access.Pin(0x10000, 0, false, out _));
        Assert.Equal(Errno.EOVERFLOW, access.Pin(ulong.MaxValue, 2, false, out _));
        var (plain, _) = NewAccess(pin: false);
        Assert.Equal(Errno.EINVAL, plain.Pin(0x10000, 4096, false, out _));
        // While a pinning access is attached, maps must be page aligned.
        var iova = 0x80800UL;
        Assert.Equal(Errno.EINVAL, _context.Map(_ioas, UserBase + 0x800, 0x800, IoProt.Read, IovaPlacement.Fixed, ref iova));
        // And an existing unaligned mapping refuses a pinning access.
        _context.CreateIoas(out var other).ThrowIfError("ioas");
        _context.Map(other, UserBase + 0x800, 0x800, IoProt.Read, IovaPlacement.Fixed, ref iova).ThrowIfError("small map");
        Assert.Equal(Errno.EADDRINUSE, _context.CreateAccess(other, true, new MockAccess(), out _));
        Assert.Equal(Errno.Ok, _context.CreateAccess(other, false, new MockAccess(), out _));
    }

    [Fact]
    public void ReadsAndWritesAtAnyByteAlignment()
    {
        Map(0x10000, UserBase, 4 * 4096);
        Map(0x20000, 0x40_0000, 4096, IoProt.Read);
        var (access, _) = NewAccess(pin: false);
        var data = Enumerable.Range(1, 31).Select(i => (byte)i).ToArray();
        Assert.Equal(Errno.Ok, access.Write(0x10FF0, data));
        var back = new byte[31];
        _memory.Read(UserBase + 0xFF0, back).ThrowIfError("read");
        Assert.Equal(data, back);
        var viaAccess = new byte[31];
        Assert.Equal(Errno.Ok, access.Read(0x10FF0, viaAccess));
        Assert.Equal(data, viaAccess);
        Assert.Equal(Errno.EPERM, access.Write(0x20000, new byte[4]));
        Assert.Equal(Errno.ENOENT, access.Read(0x13FF0, new byte[32]));
    }

    [Fact]
    public void ReplacingTheIoasDropsPinsAndMovesTheReference()
    {
        Map(0x10000, UserBase, 4096);
        var (access, mock) = NewAccess();
        access.Pin(0x10000, 4096, false, out var pin).ThrowIfError("pin");
        mock.AddItem(pin!);
        _context.CreateIoas(out var other).ThrowIfError("ioas2");
        Assert.Equal(Errno.Ok, _context.ReplaceAccessIoas(access, other));
        Assert.Equal(0, mock.ItemCount);
        Assert.Equal(0UL, _memory.PinCount(UserBase));
        Assert.Equal(Errno.Ok, _context.Destroy(_ioas));
        Assert.Equal(Errno.EBUSY, _context.Destroy(other));
        _context.CloseAccess(access);
        Assert.Equal(Errno.Ok, _context.Destroy(other));
    }

    [Fact]
    public void ClosingAnAccessReleasesItsPinsEvenWithADomain()
    {
        var driver = new TestDriver(IovaRange.Everything);
        _context.BindDevice(driver.CreateDevice(), out var dev).ThrowIfError("bind");
        _context.AttachDevice(dev, _ioas, out _).ThrowIfError("attach");
        Map(0x10000, UserBase, 2 * 4096);
        var (access, mock) = NewAccess();
        access.Pin(0x10000, 2 * 4096, true, out var pin).ThrowIfError("pin");
        mock.AddItem(pin!);
        Assert.Equal(1UL, _memory.PinCount(UserBase));
        _context.CloseAccess(access);
        Assert.Equal(1UL, _memory.PinCount(UserBase));
        _context.Unmap(_ioas, 0, ulong.MaxValue, out _).ThrowIfError("unmap");
        Assert.Equal(0UL, _memory.PinCount(UserBase));
        Assert.Equal(0UL, _host.UserAccount.UsedPages);
    }
}
