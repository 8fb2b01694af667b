using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Memory;

/// <summary>
/// Pinned pages belong to the pin, not to the address (issue 12, defect 3): after the program
/// unmaps pinned memory and maps fresh memory at the same address, the domain and the access
/// still reach the old pages and their contents, and the new memory is neither mapped nor pinned.
/// With memory that keeps pinned pages (the simulated one, opted in); docs/pinned-memory-lifetime.md.
/// </summary>
public sealed class PinnedPagesOutliveUnmapTests
{
    private const ulong UserBase = 0x10_0000;
    private const ulong Length = 16 * 4096;
    private const ulong Iova = 0x100_0000; // inside the mock aperture
    private readonly SimulatedUserMemory _memory = new() { PinsOutliveUnmap = true };
    private readonly IommufdContext _context;
    private readonly IoasId _ioas;
    private readonly HwptId _hwpt;

    public PinnedPagesOutliveUnmapTests()
    {
        _memory.Map(UserBase, Length);
        _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _context.BindDevice(MockIommuDriver.Instance.CreateDevice(MockDeviceFlags.None), out var device).ThrowIfError("bind");
        _context.AttachDevice(device, _ioas, out _hwpt).ThrowIfError("attach");
    }

    private void Fill(byte value) => _memory.Write(UserBase, Enumerable.Repeat(value, (int)Length).ToArray()).ThrowIfError("fill");

    private IommuFd.Core.Objects.Access NewAccess()
    {
        var mock = new MockAccess();
        _context.CreateAccess(_ioas, true, mock, out var access).ThrowIfError("access");
        mock.Access = access;
        return access;
    }

    [Fact]
    public void TheDomainAndAnAccessKeepTheOldPagesAfterUnmapAndANewMap()
    {
        Fill(0xa1);
        var iova = Iova;
        _context.Map(_ioas, UserBase, Length, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
        Assert.Equal(Errno.Ok, _context.CheckMockMap(_hwpt, Iova, Length, UserBase, _memory));
        Assert.Equal(1UL, _memory.PinCount(UserBase));

        _memory.Unmap(UserBase);
        _memory.Map(UserBase, Length);
        Fill(0xb2);

        // The new memory is not what the domain maps, and nothing pins it.
        Assert.Equal(Errno.EINVAL, _context.CheckMockMap(_hwpt, Iova, Length, UserBase, _memory));
        Assert.Equal(0UL, _memory.PinCount(UserBase));
        Assert.Equal(0UL, _memory.PinCount(UserBase + Length - 1));

        // An access reads the old contents, and its writes go to the old pages only.
        var access = NewAccess();
        var read = new byte[Length];
        Assert.Equal(Errno.Ok, access.Read(Iova, read));
        Assert.All(read, b => Assert.Equal(0xa1, b));
        Assert.Equal(Errno.Ok, access.Write(Iova + 100, new byte[] { 1, 2, 3 }));
        var program = new byte[3];
        _memory.Read(UserBase + 100, program).ThrowIfError("read");
        Assert.Equal(new byte[] { 0xb2, 0xb2, 0xb2 }, program);
        Assert.Equal(Errno.Ok, access.Read(Iova + 100, program));
        Assert.Equal(new byte[] { 1, 2, 3 }, program);
        _context.CloseAccess(access);

        // UNMAP lets the old pages go; mapping the new memory then reaches it.
        Assert.Equal(Errno.Ok, _context.Unmap(_ioas, Iova, Length, out _));
        iova = Iova;
        _context.Map(_ioas, UserBase, Length, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map again");
        Assert.Equal(Errno.Ok, _context.CheckMockMap(_hwpt, Iova, Length, UserBase, _memory));
        Assert.Equal(1UL, _memory.PinCount(UserBase));
    }

    [Fact]
    public void PagesNobodyPinnedFollowTheAddress()
    {
        // No domain pins an IOAS without one: its areas read whatever is at the address, as in the kernel.
        _context.CreateIoas(out var plain).ThrowIfError("ioas");
        var iova = Iova;
        _context.Map(plain, UserBase, Length, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
        var mock = new MockAccess();
        _context.CreateAccess(plain, false, mock, out var access).ThrowIfError("access");
        mock.Access = access;
        _memory.Unmap(UserBase);
        _memory.Map(UserBase, Length);
        Fill(0xb2);
        var read = new byte[4];
        Assert.Equal(Errno.Ok, access.Read(Iova, read));
        Assert.All(read, b => Assert.Equal(0xb2, b));
    }
}
