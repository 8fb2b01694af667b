using IommuFd.Core.AddressSpace;
using IommuFd.Core.Objects;
using IommuFd.Core.Pages;

namespace IommuFd.Core;

/// <summary>How MAP and COPY place a mapping.</summary>
public enum IovaPlacement
{
    /// <summary>The engine chooses a free IOVA and returns it.</summary>
    Automatic,

    /// <summary>The caller's IOVA is used; it must be free.</summary>
    Fixed,
}

/// <summary>Reads element <paramref name="index"/> of a caller's list of ranges (EFAULT when unreadable).</summary>
public delegate Errno IovaRangeReader(uint index, out IovaRange range);

/// <summary>
/// One open <c>/dev/iommu</c>: its objects and options. The managed API that C# embedders call
/// directly and that the ioctl layer decodes into; both get the same behaviour and errnos.
/// </summary>
public sealed partial class IommufdContext : IDisposable
{
    private readonly Lock _optionLock = new();
    private AccountMode _accountMode = AccountMode.User;
    private bool _disposed;

    /// <summary>A new context (one open of /dev/iommu) on <paramref name="host"/>'s memory and accounts.</summary>
    public IommufdContext(IommuHost host) => Host = host;

    /// <summary>The memory and memlock accounts this context's ioctls use.</summary>
    public IommuHost Host { get; }

    /// <summary>Every object of this context, found by ID.</summary>
    public ObjectTable Objects { get; } = new();

    /// <summary>Which memlock account pins are charged to (IOMMU_OPTION_RLIMIT_MODE).</summary>
    public AccountMode AccountMode
    {
        get
        {
            lock (_optionLock)
                return _accountMode;
        }
    }

    /// <summary>IOMMU_OPTION_RLIMIT_MODE: only while the context holds no object (EBUSY); 0 or 1 (EINVAL).</summary>
    public Errno SetAccountMode(ulong value)
    {
        lock (_optionLock)
        {
            if (Objects.Count != 0)
                return Errno.EBUSY;
            if (value > (ulong)AccountMode.Process)
                return Errno.EINVAL;
            _accountMode = (AccountMode)value;
            return Errno.Ok;
        }
    }

    /// <summary>IOMMU_IOAS_ALLOC: a new, empty I/O address space.</summary>
    public Errno CreateIoas(out IoasId id)
    {
        using var ioas = BeginCreateIoas();
        id = ioas.Reserved ? ioas.Publish().TypedId : default;
        return ioas.Status;
    }

    /// <summary>
    /// A new IOAS with its ID reserved but not published, for callers (the ioctl layer) that must
    /// still report the ID: publish it once reported; disposing it unpublished takes it back.
    /// </summary>
    public PendingObject<Ioas> BeginCreateIoas() => Objects.Reserve(new Ioas());

    /// <summary>IOMMU_DESTROY: EBUSY while another object still depends on it, ENOENT for an unknown ID.</summary>
    public Errno Destroy(ObjectId id) => Objects.Destroy(id);

    /// <summary>
    /// IOMMU_IOAS_MAP: maps user memory [userAddress, +length). Checked before the IOAS is looked up,
    /// in the kernel's order: an all-ones IOVA or length EOVERFLOW, no access EINVAL.
    /// </summary>
    public Errno Map(IoasId id, ulong userAddress, ulong length, IoProt prot, IovaPlacement placement, ref ulong iova, IommuHost? caller = null) =>
        MapMemory(id, fd: null, userAddress, length, prot, placement, ref iova, caller);

    /// <summary>
    /// IOMMU_IOAS_MAP_FILE: maps file bytes [start, +length) of descriptor <paramref name="fd"/>.
    /// The request checks of <see cref="Map"/>, then ENOENT for an unknown IOAS, EBADF for an
    /// unknown descriptor, EINVAL past the end of file.
    /// </summary>
    public Errno MapFile(IoasId id, int fd, ulong start, ulong length, IoProt prot, IovaPlacement placement, ref ulong iova, IommuHost? caller = null) =>
        MapMemory(id, fd, start, length, prot, placement, ref iova, caller);

    /// <summary>MAP (<paramref name="fd"/> null: <paramref name="start"/> is a user address) or MAP_FILE (a file offset).</summary>
    private Errno MapMemory(IoasId id, int? fd, ulong start, ulong length, IoProt prot, IovaPlacement placement, ref ulong iova, IommuHost? caller)
    {
        var rc = CheckMapRequest(iova, length, prot);
        if (rc != Errno.Ok)
            return rc;
        using var ioas = Objects.Hold<Ioas>(id);
        if (!ioas.Held)
            return ioas.Status;
        // The memory is the caller's (a forked child's, for an inherited fd), as current->mm is the kernel's.
        var host = caller ?? Host;
        var address = start;
        IDisposable? mapping = null;
        if (fd is { } file)
        {
            rc = host.FileMemory.MapFile(file, start, length, prot.HasFlag(IoProt.Write), out address, out var fileMapping);
            if (rc != Errno.Ok)
                return rc;
            mapping = fileMapping;
        }
        // The page table owns the file mapping from here on, and frees it when nothing maps it.
        return ioas.Value.PageTable.MapUser(host, AccountMode, address, length, prot | IoProt.Cache,
            placement == IovaPlacement.Automatic, ref iova, mapping, placementBase: fd is null ? null : start);
    }

    /// <summary>
    /// Maps at <paramref name="dstId"/> the memory that [srcIova, +length) of <paramref name="srcId"/>
    /// maps, sharing its pages (pinned and charged once). The request checks of <see cref="Map"/>
    /// (an all-ones source IOVA too), then the source is looked up before the destination.
    /// </summary>
    public Errno Copy(IoasId dstId, IoasId srcId, ulong srcIova, ulong length, IoProt prot, IovaPlacement placement, ref ulong dstIova)
    {
        var rc = CheckMapRequest(dstIova, length, prot, srcIova);
        if (rc != Errno.Ok)
            return rc;
        List<PageSlice> slices;
        using (var src = Objects.Hold<Ioas>(srcId))
        {
            if (!src.Held)
                return src.Status;
            rc = src.Value.PageTable.GetPages(srcIova, length, out slices);
        }
        if (rc != Errno.Ok)
            return rc;
        try
        {
            using var dst = Objects.Hold<Ioas>(dstId);
            if (!dst.Held)
                return dst.Status;
            return dst.Value.PageTable.MapSlices(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(slices), length, prot | IoProt.Cache, placement == IovaPlacement.Automatic, ref dstIova);
        }
        finally
        {
            // The new areas hold their own references; an UNMAP of the source may now free what it mapped.
            foreach (var slice in slices)
                slice.Pages.Release();
        }
    }

    /// <summary>The checks every MAP, MAP_FILE and COPY makes before any look-up, in the kernel's order.</summary>
    private static Errno CheckMapRequest(ulong iova, ulong length, IoProt prot, ulong sourceIova = 0)
    {
        // The kernel's IOVAs are unsigned longs: an all-ones start or length can never be mapped.
        if (iova == ulong.MaxValue || sourceIova == ulong.MaxValue || length == ulong.MaxValue)
            return Errno.EOVERFLOW;
        if ((prot & (IoProt.Read | IoProt.Write)) == 0)
            return Errno.EINVAL;
        return Errno.Ok;
    }

    /// <summary>Unmaps whole areas inside the range; 0..ulong.MaxValue (length) unmaps everything.</summary>
    public Errno Unmap(IoasId id, ulong iova, ulong length, out ulong unmapped)
    {
        unmapped = 0;
        using var ioas = Objects.Hold<Ioas>(id);
        if (!ioas.Held)
            return ioas.Status;
        if (iova == 0 && length == ulong.MaxValue)
            return ioas.Value.PageTable.UnmapAll(out unmapped);
        if (iova == ulong.MaxValue || length == ulong.MaxValue)
            return Errno.EOVERFLOW;
        return ioas.Value.PageTable.Unmap(iova, length, out unmapped);
    }

    /// <summary>IOMMU_IOAS_IOVA_RANGES: the IOVA ranges a MAP may use now, and the alignment it needs.</summary>
    public Errno GetIovaRanges(IoasId id, out IReadOnlyList<IovaRange> ranges, out ulong alignment)
    {
        ranges = [];
        alignment = 0;
        using var ioas = Objects.Hold<Ioas>(id);
        if (!ioas.Held)
            return ioas.Status;
        ranges = ioas.Value.PageTable.UsableRanges();
        alignment = ioas.Value.PageTable.IovaAlignment;
        return Errno.Ok;
    }

    /// <summary>IOMMU_IOAS_ALLOW_IOVAS: restricts automatic and fixed placement to <paramref name="ranges"/> (empty lifts it).</summary>
    public Errno AllowIovas(IoasId id, IReadOnlyList<IovaRange> ranges) =>
        AllowIovas(id, (uint)ranges.Count, (uint i, out IovaRange range) =>
        {
            range = ranges[(int)i];
            return Errno.Ok;
        });

    /// <summary>
    /// IOMMU_IOAS_ALLOW_IOVAS with the ranges read one at a time from <paramref name="read"/> (the
    /// caller's memory), so a bad element fails where the kernel's loop would: ENOENT for the IOAS
    /// first, then each element's read error or its EINVAL, then EADDRINUSE against reserved IOVA.
    /// </summary>
    public Errno AllowIovas(IoasId id, uint count, IovaRangeReader read)
    {
        using var ioas = Objects.Hold<Ioas>(id);
        if (!ioas.Held)
            return ioas.Status;
        var ranges = new AllowedRangeSet();
        for (var i = 0u; i < count; i++)
        {
            var rc = read(i, out var range);
            if (rc == Errno.Ok)
                rc = ranges.Add(range);
            if (rc != Errno.Ok)
                return rc;
        }
        return ioas.Value.PageTable.SetAllowed(ranges);
    }

    /// <summary>Reserves [start, last] in an IOAS on nobody's behalf (the self-test's ADD_RESERVED).</summary>
    public Errno AddReserved(IoasId id, ulong start, ulong last)
    {
        using var ioas = Objects.Hold<Ioas>(id);
        return ioas.Held ? ioas.Value.PageTable.Reserve(start, last, owner: null) : ioas.Status;
    }

    /// <summary>IOMMU_OPTION_HUGE_PAGES: whether domains of this IOAS may use pages larger than the CPU's.</summary>
    public Errno SetHugePages(IoasId id, bool enabled) => SetHugePages(id, enabled ? 1UL : 0UL);

    /// <summary>IOMMU_OPTION_HUGE_PAGES set: the IOAS is looked up (ENOENT) before the value is checked (0 or 1, else EINVAL).</summary>
    public Errno SetHugePages(IoasId id, ulong value)
    {
        using var ioas = Objects.Hold<Ioas>(id);
        if (!ioas.Held)
            return ioas.Status;
        return value > 1 ? Errno.EINVAL : ioas.Value.PageTable.SetLargePages(value == 1);
    }

    /// <summary>IOMMU_OPTION_HUGE_PAGES get.</summary>
    public Errno GetHugePages(IoasId id, out bool enabled)
    {
        using var ioas = Objects.Hold<Ioas>(id);
        enabled = ioas.Held && ioas.Value.PageTable.LargePagesEnabled;
        return ioas.Status;
    }

    /// <summary>Closing the file: every object is destroyed and every pin released.</summary>
    public void Dispose()
    {
        lock (_optionLock)
        {
            if (_disposed)
                return;
            _disposed = true;
        }
        // Devices are unplugged first, releasing their HWPTs; then everything is destroyed leaf first.
        foreach (var obj in Objects.Snapshot())
            if (obj is Devices.Device device)
            {
                DetachAllPasids(device.TypedId);
                DetachDevice(device.TypedId);
            }
        Objects.DestroyAll();
    }
}
