namespace IommuFd.Core.FaultInjection;

/// <summary>
/// The kinds of place where the engine can fail on purpose (see <see cref="FailNth"/>). Each kind
/// fails with the errno the kernel's counterpart returns (<see cref="FaultSites.ErrnoOf"/>).
/// </summary>
public enum FaultSite
{
    /// <summary>An object's ID is reserved in the context's table (the kernel's object allocation): ENOMEM.</summary>
    ObjectAlloc,

    /// <summary>A driver allocates a paging domain for an HWPT: ENOMEM.</summary>
    DomainAlloc,

    /// <summary>An IOAS area (one mapping of the software copy) is allocated: ENOMEM.</summary>
    AreaAlloc,

    /// <summary>The pages object behind a MAP (the kernel's iopt_pages) is allocated: ENOMEM.</summary>
    PagesAlloc,

    /// <summary>A list of page slices is built (COPY's source pages, an access's pinned pages): ENOMEM.</summary>
    PageListAlloc,

    /// <summary>A page-table level is allocated while a domain maps: ENOMEM.</summary>
    PageTableAlloc,

    /// <summary>Bytes are copied from or to user memory (copy_from_user / copy_to_user): EFAULT.</summary>
    UserCopy,

    /// <summary>User pages are pinned (pin_user_pages): ENOMEM.</summary>
    Pin,

    /// <summary>A domain is asked to map a range (the driver's map_pages): ENOMEM, as a driver out of page-table memory.</summary>
    DomainMap,

    /// <summary>A file descriptor is made for an object (the kernel's anon-inode file): ENOMEM.</summary>
    FileOpen,
}

/// <summary>Facts about the fault-site kinds.</summary>
public static class FaultSites
{
    /// <summary>
    /// What a failure at <paramref name="site"/> returns. Allocations of every kind, pins and the
    /// anonymous file behind an fd fail as an out-of-memory kernel would; user copies as a bad pointer.
    /// </summary>
    public static Errno ErrnoOf(FaultSite site) => site == FaultSite.UserCopy ? Errno.EFAULT : Errno.ENOMEM;
}
