using IommuFd.Core;
using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Devices;

/// <summary>Devices meeting IOASes: the software copy fills every domain, and failures leave no trace.</summary>
public sealed class AttachTests
{
    private const ulong UserBase = 0x10_0000;
    private static readonly IovaRange Aperture = new(0x100_0000, 0x7FFF_FFFF);

    private readonly SimulatedUserMemory _memory = new();
    private readonly IommuHost _host;
    private readonly IommufdContext _context;
    private readonly TestDriver _driver = new(Aperture);

    public AttachTests()
    {
        _memory.Map(UserBase, 64 * 4096);
        _host = new IommuHost(_memory, ulong.MaxValue);
        _context = new IommufdContext(_host);
    }

    private IoasId NewIoas()
    {
        _context.CreateIoas(out var id).ThrowIfError("ioas");
        return id;
    }

    private DeviceId Bind(Device device)
    {
        _context.BindDevice(device, out var id).ThrowIfError("bind");
        return id;
    }

    private ulong Map(IoasId ioas, ulong iova, ulong pages, ulong userPage = 0)
    {
        _context.Map(ioas, UserBase + userPage * 4096, pages * 4096, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
        return iova;
    }

    private IReadOnlyList<IovaRange> Ranges(IoasId ioas)
    {
        _context.GetIovaRanges(ioas, out var ranges, out _).ThrowIfError("ranges");
        return ranges;
    }

    private static void AssertMirrors(RecordingDomain domain, IommufdContext context, IoasId ioas)
    {
        var held = context.Objects.Peek<Ioas>(ioas);
        var expected = new Dictionary<ulong, ulong>();
        foreach (var m in held.PageTable.Mappings())
            for (var off = 0UL; off < m.Iova.Length; off += 4096)
                expected[m.Iova.Start + off] = m.UserAddress + off;
        Assert.Equal(expected.Count, domain.Pages.Count);
        foreach (var (iova, uva) in expected)
            Assert.Equal(uva, domain.Lookup(iova)?.UserAddress);
    }

    [Fact]
    public void AttachingToAnIoasFillsANewAutomaticHwptAndNarrowsTheRanges()
    {
        var ioas = NewIoas();
        Map(ioas, 0x200_0000, 4);
        var dev = Bind(_driver.CreateDevice());
        Assert.Equal(Errno.Ok, _context.AttachDevice(dev, ioas, out var hwpt));
        Assert.Single(_driver.Domains);
        AssertMirrors(_driver.Domains[0], _context, ioas);
        Assert.Equal([Aperture], Ranges(ioas));
        Assert.Equal(4UL, _host.UserAccount.UsedPages);
        Assert.Equal(Errno.EBUSY, _context.Destroy(ioas));
        Assert.Equal(Errno.EBUSY, _context.Destroy(hwpt));

        // Later changes reach the domain too.
        Map(ioas, 0x300_0000, 2, userPage: 8);
        AssertMirrors(_driver.Domains[0], _context, ioas);
        _context.Unmap(ioas, 0x200_0000, 4 * 4096, out _).ThrowIfError("unmap");
        AssertMirrors(_driver.Domains[0], _context, ioas);
    }

    [Fact]
    public void CompatibleDevicesShareTheAutomaticHwptAndOthersGetTheirOwn()
    {
        var ioas = NewIoas();
        Map(ioas, 0x200_0000, 2);
        var a = Bind(_driver.CreateDevice("a"));
        var a2 = Bind(_driver.CreateDevice("a"));
        var b = Bind(_driver.CreateDevice("b"));
        _context.AttachDevice(a, ioas, out var h1).ThrowIfError("a");
        _context.AttachDevice(a2, ioas, out var h2).ThrowIfError("a2");
        _context.AttachDevice(b, ioas, out var h3).ThrowIfError("b");
        Assert.Equal(h1, h2);
        Assert.NotEqual(h1, h3);
        Assert.Equal(2, _driver.Domains.Count);
        Map(ioas, 0x400_0000, 1, userPage: 20);
        foreach (var domain in _driver.Domains)
            AssertMirrors(domain, _context, ioas);
        // Pages are pinned once however many domains hold them.
        Assert.Equal(3UL, _host.UserAccount.UsedPages);
        Assert.Equal(1UL, _memory.PinCount(UserBase));
    }

    [Fact]
    public void AttachErrorsAndDetachWidensAgain()
    {
        var ioas = NewIoas();
        var dev = Bind(_driver.CreateDevice());
        Assert.Equal(Errno.ENOENT, _context.AttachDevice(dev, new ObjectId(999), out _));
        Assert.Equal(Errno.EINVAL, _context.AttachDevice(dev, dev, out _));
        Assert.Equal(Errno.ENOENT, _context.AttachDevice(new DeviceId(ioas.Value), ioas, out _));
        _context.AttachDevice(dev, ioas, out var hwpt).ThrowIfError("attach");
        Assert.Equal(Errno.EBUSY, _context.AttachDevice(dev, ioas, out _));
        Assert.Equal(Errno.EBUSY, _context.Destroy(dev));

        _context.DetachDevice(dev).ThrowIfError("detach");
        Assert.Equal([IovaRange.Everything], Ranges(ioas));
        // The automatic HWPT went with its last device.
        Assert.Equal(Errno.ENOENT, _context.Destroy(hwpt));
        Assert.Equal(Errno.Ok, _context.DetachDevice(dev));
        Assert.Equal(Errno.Ok, _context.Destroy(ioas));
    }

    [Fact]
    public void AFailedFillLeavesNoHwptNoPinAndNoNarrowing()
    {
        var ioas = NewIoas();
        Map(ioas, 0x200_0000, 1);
        Map(ioas, 0x300_0000, 1, userPage: 4);
        Map(ioas, 0x400_0000, 1, userPage: 8);
        var before = _context.Objects.Count;
        _driver.NextDomainFailsOnMapCall = 3;
        var dev = Bind(_driver.CreateDevice());
        Assert.Equal(Errno.ENOMEM, _context.AttachDevice(dev, ioas, out _));
        Assert.Equal(before + 1, _context.Objects.Count);
        Assert.Empty(_driver.Domains[0].Pages);
        Assert.Equal(0UL, _host.UserAccount.UsedPages);
        Assert.Equal([IovaRange.Everything], Ranges(ioas));
        // The device is free to try again.
        Assert.Equal(Errno.Ok, _context.AttachDevice(dev, ioas, out _));
        AssertMirrors(_driver.Domains[1], _context, ioas);
    }

    [Fact]
    public void AMappingOutsideTheApertureOrAnAllowedRangeBlocksTheAttach()
    {
        var ioas = NewIoas();
        Map(ioas, 0x1000, 1);
        var dev = Bind(_driver.CreateDevice());
        Assert.Equal(Errno.EADDRINUSE, _context.AttachDevice(dev, ioas, out _));
        _context.Unmap(ioas, 0, ulong.MaxValue, out _).ThrowIfError("unmap");
        _context.AllowIovas(ioas, [new IovaRange(0x1000, 0x1FFF)]).ThrowIfError("allow");
        Assert.Equal(Errno.EADDRINUSE, _context.AttachDevice(dev, ioas, out _));
        _context.AllowIovas(ioas, []).ThrowIfError("allow none");
        Assert.Equal(Errno.Ok, _context.AttachDevice(dev, ioas, out _));
    }

    [Fact]
    public void DeviceReservedRegionsFollowTheAttachment()
    {
        var msi = new IovaRange(0x800_0000, 0x80F_FFFF);
        var ioas = NewIoas();
        var other = NewIoas();
        var dev = Bind(_driver.CreateDevice(reserved: [msi]));
        _context.AttachDevice(dev, ioas, out _).ThrowIfError("attach");
        Assert.Equal([new IovaRange(Aperture.Start, msi.Start - 1), new IovaRange(msi.Last + 1, Aperture.Last)], Ranges(ioas));
        var iova = msi.Start;
        Assert.Equal(Errno.EINVAL, _context.Map(ioas, UserBase, 4096, IoProt.Read, IovaPlacement.Fixed, ref iova));

        _context.ReplaceDevice(dev, other, out _).ThrowIfError("replace");
        Assert.Equal([IovaRange.Everything], Ranges(ioas));
        Assert.Equal([new IovaRange(Aperture.Start, msi.Start - 1), new IovaRange(msi.Last + 1, Aperture.Last)], Ranges(other));
    }

    [Fact]
    public void ReplaceMovesWithoutAGapAndDropsTheOldAutomaticHwpt()
    {
        var first = NewIoas();
        var second = NewIoas();
        Map(first, 0x200_0000, 1);
        Map(second, 0x300_0000, 1, userPage: 4);
        var dev = Bind(_driver.CreateDevice());
        Assert.Equal(Errno.EINVAL, _context.ReplaceDevice(dev, second, out _));
        _context.AttachDevice(dev, first, out var h1).ThrowIfError("attach");
        Assert.Equal(Errno.Ok, _context.ReplaceDevice(dev, first, out var same));
        Assert.Equal(h1, same);
        _context.ReplaceDevice(dev, second, out var h2).ThrowIfError("replace");
        Assert.NotEqual(h1, h2);
        Assert.Equal(Errno.ENOENT, _context.ReplaceDevice(dev, h1, out _));
        AssertMirrors(_driver.Domains[^1], _context, second);
        Assert.Equal(Errno.Ok, _context.Destroy(first));
    }

    [Fact]
    public void AnExplicitHwptNarrowsTheIoasAtOnceAndLivesUntilDestroyed()
    {
        var ioas = NewIoas();
        var dev = Bind(_driver.CreateDevice());
        Assert.Equal(Errno.ENOENT, _context.AllocHwpt(new DeviceId(77), ioas, HwptAllocFlags.None, null, out _));
        Assert.Equal(Errno.EINVAL, _context.AllocHwpt(dev, new ObjectId(77), HwptAllocFlags.None, null, out _));
        Assert.Equal(Errno.EOPNOTSUPP, _context.AllocHwpt(dev, ioas, (HwptAllocFlags)0x100, null, out _));
        Assert.Equal(Errno.EOPNOTSUPP, _context.AllocHwpt(dev, ioas, HwptAllocFlags.DirtyTracking, null, out _));
        _context.AllocHwpt(dev, ioas, HwptAllocFlags.None, null, out var hwpt).ThrowIfError("alloc");
        Assert.Equal([Aperture], Ranges(ioas));
        _context.AttachDevice(dev, hwpt, out var attached).ThrowIfError("attach");
        Assert.Equal(hwpt, attached);
        Assert.Equal(Errno.EBUSY, _context.Destroy(hwpt));
        _context.DetachDevice(dev).ThrowIfError("detach");
        Assert.Equal([Aperture], Ranges(ioas));
        Assert.Equal(Errno.Ok, _context.Destroy(hwpt));
        Assert.Equal([IovaRange.Everything], Ranges(ioas));
    }

    [Fact]
    public void ClosingTheContextTearsDownDevicesHwptsAndPins()
    {
        var ioas = NewIoas();
        Map(ioas, 0x200_0000, 3);
        var dev = Bind(_driver.CreateDevice());
        _context.AttachDevice(dev, ioas, out _).ThrowIfError("attach");
        Assert.Equal(3UL, _host.UserAccount.UsedPages);
        _context.Dispose();
        Assert.Equal(0UL, _host.UserAccount.UsedPages);
        Assert.Equal(0UL, _memory.PinCount(UserBase));
        Assert.Empty(_driver.Domains[0].Pages);
    }

    [Fact]
    public void WithLargePagesDisabledDomainsGetPageSizedEntries()
    {
        var ioas = NewIoas();
        _context.SetHugePages(ioas, false).ThrowIfError("huge pages off");
        Map(ioas, 0x200_0000, 4);
        var dev = Bind(_driver.CreateDevice());
        _context.AttachDevice(dev, ioas, out _).ThrowIfError("attach");
        Assert.Equal(4096UL, _driver.Domains[0].LastLargestPage);
        Map(ioas, 0x300_0000, 2, userPage: 8);
        Assert.Equal(4096UL, _driver.Domains[0].LastLargestPage);
        AssertMirrors(_driver.Domains[0], _context, ioas);
        // Back on: the domain may use any size again.
        _context.SetHugePages(ioas, true).ThrowIfError("huge pages on");
        Map(ioas, 0x400_0000, 2, userPage: 16);
        Assert.Equal(ulong.MaxValue, _driver.Domains[0].LastLargestPage);
    }
}
