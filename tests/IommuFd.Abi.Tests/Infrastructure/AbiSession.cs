using IommuFd.Abi.Dispatch;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.AddressSpace;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Tests.Infrastructure;

/// <summary>
/// One open <c>/dev/iommu</c> over simulated user memory: structs are written into the heap,
/// the ioctl goes through <see cref="IoctlDispatcher"/>, and the struct is read back.
/// </summary>
public sealed class AbiSession : IDisposable
{
    /// <summary>A fresh host and context with an unlimited memlock budget.</summary>
    public AbiSession()
    {
        Memory = new SimulatedUserMemory();
        Host = new IommuHost(Memory, ulong.MaxValue);
        Heap = new UserHeap(Memory);
        Context = new IommufdContext(Host);
    }

    private AbiSession(AbiSession first)
    {
        Memory = first.Memory;
        Host = first.Host;
        Heap = first.Heap;
        Context = new IommufdContext(Host);
    }

    /// <summary>A second context on the same host: same user memory, heap and accounts.</summary>
    public AbiSession OpenAnother() => new(this);

    public IommuHost Host { get; }

    public SimulatedUserMemory Memory { get; }

    public UserHeap Heap { get; }

    public IommufdContext Context { get; }

    /// <summary>The raw dispatcher result: 0 or a negative errno.</summary>
    public int RawIoctl(ulong command, ulong userArg) => IoctlDispatcher.Ioctl(Context, command, (nint)userArg);

    /// <summary>The dispatcher result as an errno (Ok for 0).</summary>
    public Errno Ioctl(ulong command, ulong userArg)
    {
        var rc = RawIoctl(command, userArg);
        Assert.True(rc <= 0, $"ioctl returned a positive value {rc}");
        return (Errno)(-rc);
    }

    /// <summary>Places <paramref name="cmd"/> in user memory, issues its ioctl and reads it back.</summary>
    public Errno Ioctl<T>(ref T cmd) where T : unmanaged => Ioctl(ref cmd, out _);

    /// <summary>As <see cref="Ioctl{T}(ref T)"/>, also giving where the struct lives.</summary>
    public Errno Ioctl<T>(ref T cmd, out ulong address) where T : unmanaged
    {
        address = Heap.Place(cmd);
        var rc = Ioctl(Header.NumberOf<T>(), address);
        cmd = Heap.Read<T>(address);
        return rc;
    }

    /// <summary>Issues a command whose struct is already in user memory, then reads it back.</summary>
    public Errno IoctlAt<T>(ulong address, out T after) where T : unmanaged
    {
        var rc = Ioctl(Header.NumberOf<T>(), address);
        after = Heap.Read<T>(address);
        return rc;
    }

    // ---- conveniences that must succeed ----

    public uint AllocIoas()
    {
        var cmd = Cmd.IoasAlloc();
        Assert.Equal(Errno.Ok, Ioctl(ref cmd));
        Assert.NotEqual(0u, cmd.OutIoasId);
        return cmd.OutIoasId;
    }

    public Errno Destroy(uint id)
    {
        var cmd = Cmd.Destroy(id);
        return Ioctl(ref cmd);
    }

    /// <summary>Maps at a fixed IOVA; asserts success.</summary>
    public void MapFixed(uint ioas, ulong iova, ulong userVa, ulong length, uint flags = Header.ReadWrite)
    {
        var cmd = Cmd.MapFixed(ioas, iova, userVa, length, flags);
        Assert.Equal(Errno.Ok, Ioctl(ref cmd));
        Assert.Equal(iova, cmd.Iova);
    }

    /// <summary>Maps at an IOVA the engine chooses; asserts success and returns it.</summary>
    public ulong MapAuto(uint ioas, ulong userVa, ulong length, uint flags = Header.ReadWrite)
    {
        var cmd = Cmd.Map(ioas, userVa, length, flags: flags);
        Assert.Equal(Errno.Ok, Ioctl(ref cmd));
        return cmd.Iova;
    }

    public Errno Map(uint ioas, ulong userVa, ulong length, ulong iova = 0, uint flags = Header.ReadWrite) =>
        Map(Cmd.Map(ioas, userVa, length, iova, flags), out _);

    public Errno Map(IommuIoasMap cmd, out IommuIoasMap after)
    {
        var rc = Ioctl(ref cmd);
        after = cmd;
        return rc;
    }

    public Errno Unmap(uint ioas, ulong iova, ulong length, out ulong unmapped)
    {
        var cmd = Cmd.Unmap(ioas, iova, length);
        var rc = Ioctl(ref cmd);
        unmapped = cmd.Length;
        return rc;
    }

    public Errno Copy(IommuIoasCopy cmd, out IommuIoasCopy after)
    {
        var rc = Ioctl(ref cmd);
        after = cmd;
        return rc;
    }

    /// <summary>ALLOW_IOVAS with the given ranges placed in user memory.</summary>
    public Errno AllowIovas(uint ioas, params IommuIovaRange[] ranges)
    {
        var array = ranges.Length == 0 ? UserHeap.BadPointer : Heap.PlaceArray<IommuIovaRange>(ranges);
        var cmd = Cmd.AllowIovas(ioas, (uint)ranges.Length, array);
        return Ioctl(ref cmd);
    }

    /// <summary>IOVA_RANGES with room for 16 ranges; asserts success.</summary>
    public IommuIovaRange[] IovaRanges(uint ioas, out ulong alignment)
    {
        const int capacity = 16;
        var array = Heap.Alloc(capacity * Header.IovaRangeSize);
        var cmd = Cmd.IovaRanges(ioas, capacity, array);
        Assert.Equal(Errno.Ok, Ioctl(ref cmd));
        alignment = cmd.OutIovaAlignment;
        return Heap.ReadArray<IommuIovaRange>(array, (int)cmd.NumIovas);
    }

    public Errno Option(ref IommuOption cmd) => Ioctl(ref cmd);

    /// <summary>IOMMU_OPTION GET; asserts success.</summary>
    public ulong GetOption(uint optionId, uint objectId = 0)
    {
        var cmd = Cmd.Option(optionId, Header.OpGet, objectId, val64: 0xdead_beef);
        Assert.Equal(Errno.Ok, Ioctl(ref cmd));
        return cmd.Val64;
    }

    public Errno SetOption(uint optionId, ulong value, uint objectId = 0)
    {
        var cmd = Cmd.Option(optionId, Header.OpSet, objectId, value);
        return Ioctl(ref cmd);
    }

    /// <summary>Reserves IOVA the way a device's MSI window would (the self-test's ADD_RESERVED).</summary>
    public Errno AddReserved(uint ioas, ulong start, ulong last) => Context.AddReserved(new IoasId(ioas), start, last);

    // ---- looking inside the engine ----

    /// <summary>The software copy's mappings of an IOAS, in IOVA order.</summary>
    public IReadOnlyList<MappingInfo> Mappings(uint ioas) => WithIoas(ioas, t => t.Mappings());

    /// <summary>Translates one IOVA through the software copy: the user address, or null.</summary>
    public ulong? Translate(uint ioas, ulong iova, out IoProt prot)
    {
        var p = IoProt.None;
        var result = WithIoas(ioas, t => t.Translate(iova, out p));
        prot = p;
        return result;
    }

    public TResult WithIoas<TResult>(uint ioas, Func<IoPageTable, TResult> read)
    {
        using var held = Context.Objects.Hold<Ioas>(new ObjectId(ioas));
        Assert.True(held.Held);
        return read(held.Value.PageTable);
    }

    /// <summary>Publishes an object of another kind, to show that IOAS commands refuse its ID.</summary>
    public uint AddForeignObject()
    {
        var obj = new ForeignObject();
        Assert.Equal(Errno.Ok, Context.Objects.Reserve(obj).PublishNow(out _));
        return obj.Id.Value;
    }

    public void Dispose() => Context.Dispose();

    private sealed class ForeignObject : IommufdObject
    {
        public override ObjectKind Kind => ObjectKind.Device;
    }
}
