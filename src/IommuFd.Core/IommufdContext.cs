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

/// <summary>
/// One open <c>/dev/iommu</c>: its objects and options. The managed API that C# embedders call
/// directly and that the ioctl layer decodes into; both get the same behaviour and errnos.
/// </summary>
public sealed partial class IommufdContext : IDisposable
{
    private readonly Lock _optionLock = new();
    private AccountMode _accountMode = AccountMode.User;
    private bool _disposed;

    public IommufdContext(IommuHost host) => Host = host;

    public IommuHost Host { get; }

    public ObjectTable Objects { get; } = new();

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

    public Errno CreateIoas(out IoasId id)
    {
        id = default;
        var ioas = new Ioas();
        var rc = Objects.Reserve(ioas);
        if (rc != Errno.Ok)
            return rc;
        Objects.Publish(ioas);
        id = new IoasId(ioas.Id.Value);
        return Errno.Ok;
    }

    /// <summary>
    /// Reserves an ID for a new IOAS without publishing it, for callers (the ioctl layer) that must
    /// still copy the ID out and may need to take the creation back.
    /// </summary>
    public Errno BeginCreateIoas(out Ioas ioas)
    {
        ioas = new Ioas();
        return Objects.Reserve(ioas);
    }

    public Errno Destroy(ObjectId id) => Objects.Destroy(id);

    /// <summary>Runs <paramref name="action"/> with the IOAS held; ENOENT for an unknown ID or another kind.</summary>
    public Errno WithIoas(IoasId id, Func<Ioas, Errno> action)
    {
        var rc = Objects.TryHold<Ioas>(id, out var ioas);
        if (rc != Errno.Ok)
            return rc;
        try
        {
            return action(ioas);
        }
        finally
        {
            Objects.Release(ioas);
        }
    }

    public Errno Map(IoasId id, ulong userAddress, ulong length, IoProt prot, IovaPlacement placement, ref ulong iova, IommuHost? caller = null)
    {
        if ((prot & (IoProt.Read | IoProt.Write)) == 0)
            return Errno.EINVAL;
        var rc = Objects.TryHold<Ioas>(id, out var ioas);
        if (rc != Errno.Ok)
            return rc;
        try
        {
            // The memory is the caller's (a forked child's, for an inherited fd), as current->mm is the kernel's.
            return ioas.PageTable.MapUser(caller ?? Host, AccountMode, userAddress, length, prot | IoProt.Cache,
                placement == IovaPlacement.Automatic, ref iova);
        }
        finally
        {
            Objects.Release(ioas);
        }
    }

    /// <summary>
    /// IOMMU_IOAS_MAP_FILE: maps file bytes [start, +length) of descriptor <paramref name="fd"/>.
    /// ENOENT for an unknown IOAS, then EBADF for an unknown descriptor, EINVAL past the end of file.
    /// </summary>
    public Errno MapFile(IoasId id, int fd, ulong start, ulong length, IoProt prot, IovaPlacement placement, ref ulong iova, IommuHost? caller = null)
    {
        if ((prot & (IoProt.Read | IoProt.Write)) == 0)
            return Errno.EINVAL;
        var rc = Objects.TryHold<Ioas>(id, out var ioas);
        if (rc != Errno.Ok)
            return rc;
        try
        {
            var host = caller ?? Host;
            rc = host.FileMemory.MapFile(fd, start, length, prot.HasFlag(IoProt.Write), out var address, out var mapping);
            if (rc != Errno.Ok)
                return rc;
            rc = ioas.PageTable.MapUser(host, AccountMode, address, length, prot | IoProt.Cache,
                placement == IovaPlacement.Automatic, ref iova, mapping);
            if (rc != Errno.Ok)
                mapping.Dispose();
            return rc;
        }
        finally
        {
            Objects.Release(ioas);
        }
    }

    /// <summary>
    /// Maps at <paramref name="dstId"/> the memory that [srcIova, +length) of <paramref name="srcId"/>
    /// maps, sharing its pages (pinned and charged once). The source is checked before the destination.
    /// </summary>
    public Errno Copy(IoasId dstId, IoasId srcId, ulong srcIova, ulong length, IoProt prot, IovaPlacement placement, ref ulong dstIova)
    {
        if ((prot & (IoProt.Read | IoProt.Write)) == 0)
            return Errno.EINVAL;
        var rc = Objects.TryHold<Ioas>(srcId, out var src);
        if (rc != Errno.Ok)
            return rc;
        List<PageSlice> slices;
        try
        {
            rc = src.PageTable.GetPages(srcIova, length, out slices);
        }
        finally
        {
            Objects.Release(src);
        }
        if (rc != Errno.Ok)
            return rc;
        rc = Objects.TryHold<Ioas>(dstId, out var dst);
        if (rc != Errno.Ok)
            return rc;
        try
        {
            return dst.PageTable.MapSlices(slices, length, prot | IoProt.Cache, placement == IovaPlacement.Automatic, ref dstIova);
        }
        finally
        {
            Objects.Release(dst);
        }
    }

    /// <summary>Unmaps whole areas inside the range; 0..ulong.MaxValue (length) unmaps everything.</summary>
    public Errno Unmap(IoasId id, ulong iova, ulong length, out ulong unmapped)
    {
        unmapped = 0;
        var rc = Objects.TryHold<Ioas>(id, out var ioas);
        if (rc != Errno.Ok)
            return rc;
        try
        {
            if (iova == 0 && length == ulong.MaxValue)
                return ioas.PageTable.UnmapAll(out unmapped);
            // The kernel's IOVAs are unsigned longs: an all-ones start or length can never be mapped.
            if (iova == ulong.MaxValue || length == ulong.MaxValue)
                return Errno.EOVERFLOW;
            return ioas.PageTable.Unmap(iova, length, out unmapped);
        }
        finally
        {
            Objects.Release(ioas);
        }
    }

    public Errno GetIovaRanges(IoasId id, out IReadOnlyList<IovaRange> ranges, out ulong alignment)
    {
        IReadOnlyList<IovaRange> found = [];
        ulong align = 0;
        var rc = WithIoas(id, ioas =>
        {
            found = ioas.PageTable.UsableRanges();
            align = ioas.PageTable.IovaAlignment;
            return Errno.Ok;
        });
        ranges = found;
        alignment = align;
        return rc;
    }

    public Errno AllowIovas(IoasId id, IReadOnlyList<IovaRange> ranges) =>
        WithIoas(id, ioas => ioas.PageTable.SetAllowed(ranges));

    /// <summary>Reserves [start, last] in an IOAS on nobody's behalf (the self-test's ADD_RESERVED).</summary>
    public Errno AddReserved(IoasId id, ulong start, ulong last) =>
        WithIoas(id, ioas => ioas.PageTable.Reserve(start, last, owner: null));

    public Errno SetHugePages(IoasId id, bool enabled) =>
        WithIoas(id, ioas => ioas.PageTable.SetLargePages(enabled));

    public Errno GetHugePages(IoasId id, out bool enabled)
    {
        var value = false;
        var rc = WithIoas(id, ioas =>
        {
            value = ioas.PageTable.LargePagesEnabled;
            return Errno.Ok;
        });
        enabled = value;
        return rc;
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
                DetachDevice(device.TypedId);
        Objects.DestroyAll();
    }
}
