using IommuFd.Core;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Pages;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Pages;

public sealed class AccountingTests
{
    private const ulong Base = 0x100000;

    private static (IommufdContext, IommuHost, SimulatedUserMemory) NewContext(ulong memlockBytes)
    {
        var memory = new SimulatedUserMemory();
        memory.Map(Base, 64 * 4096);
        var host = new IommuHost(memory, memlockBytes);
        return (new IommufdContext(host), host, memory);
    }

    private static IoasId IoasWithDomain(IommufdContext context)
    {
        context.CreateIoas(out var id).ThrowIfError("ioas");
        var ioas = context.Objects.Peek<Ioas>(id);
        ioas.PageTable.AddDomain(new RecordingDomain(IovaRange.Everything)).ThrowIfError("domain");
        return id;
    }

    [Fact]
    public void ProcessModeChargesTheProcessAccount()
    {
        var (context, host, _) = NewContext(ulong.MaxValue);
        Assert.Equal(Errno.Ok, context.SetAccountMode(1));
        var id = IoasWithDomain(context);
        Assert.Equal(Errno.EBUSY, context.SetAccountMode(0));
        var iova = 0UL;
        context.Map(id, Base, 3 * 4096, IoProt.Read, IovaPlacement.Automatic, ref iova).ThrowIfError("map");
        Assert.Equal(3UL, host.ProcessAccount.UsedPages);
        Assert.Equal(0UL, host.UserAccount.UsedPages);
        Assert.Equal(Errno.EINVAL, new IommufdContext(host).SetAccountMode(2));
    }

    [Fact]
    public void PinsPastTheMemlockLimitFailWithEnomemAndChargeNothing()
    {
        var (context, host, memory) = NewContext(4 * 4096);
        var id = IoasWithDomain(context);
        var iova = 0UL;
        context.Map(id, Base, 3 * 4096, IoProt.Read, IovaPlacement.Automatic, ref iova).ThrowIfError("map");
        Assert.Equal(Errno.ENOMEM, context.Map(id, Base + 8 * 4096, 2 * 4096, IoProt.Read, IovaPlacement.Automatic, ref iova));
        Assert.Equal(3UL, host.UserAccount.UsedPages);
        Assert.Equal(0UL, memory.PinCount(Base + 8 * 4096));
    }

    [Fact]
    public void CopySharesPagesSoTheyArePinnedAndChargedOnce()
    {
        var (context, host, memory) = NewContext(ulong.MaxValue);
        var a = IoasWithDomain(context);
        var b = IoasWithDomain(context);
        var iova = 0UL;
        context.Map(a, Base, 4 * 4096, IoProt.Read | IoProt.Write, IovaPlacement.Automatic, ref iova).ThrowIfError("map");
        var dst = 0UL;
        context.Copy(b, a, iova, 4 * 4096, IoProt.Read, IovaPlacement.Automatic, ref dst).ThrowIfError("copy");
        Assert.Equal(4UL, host.UserAccount.UsedPages);
        Assert.Equal(1UL, memory.PinCount(Base));

        // A second MAP of the same memory is separate pages: pinned and charged again, as in Linux.
        context.Map(b, Base, 4096, IoProt.Read, IovaPlacement.Automatic, ref iova).ThrowIfError("map again");
        Assert.Equal(5UL, host.UserAccount.UsedPages);
        Assert.Equal(2UL, memory.PinCount(Base));

        context.Unmap(a, 0, ulong.MaxValue, out _).ThrowIfError("unmap a");
        Assert.Equal(5UL, host.UserAccount.UsedPages);
        context.Unmap(b, 0, ulong.MaxValue, out _).ThrowIfError("unmap b");
        Assert.Equal(0UL, host.UserAccount.UsedPages);
        Assert.Equal(0UL, memory.PinCount(Base));
    }

    [Fact]
    public void WithoutADomainNothingIsPinned()
    {
        var (context, host, _) = NewContext(ulong.MaxValue);
        context.CreateIoas(out var id).ThrowIfError("ioas");
        var iova = 0UL;
        // Unmapped user memory is accepted: pages are only pinned when something needs them.
        Assert.Equal(Errno.Ok, context.Map(id, 0x7000_0000, 4096, IoProt.Read, IovaPlacement.Automatic, ref iova));
        Assert.Equal(0UL, host.UserAccount.UsedPages);
    }
}
