namespace IommuFd.Core.Faults;

/// <summary>Bits of a page request (values from the uAPI's iommu_hwpt_pgfault flags).</summary>
[Flags]
public enum PageRequestFlags : uint
{
    None = 0,
    PasidValid = 1 << 0,
    LastPage = 1 << 1,
}

/// <summary>Access a page request asks for (the uAPI's iommu_hwpt_pgfault perm bits).</summary>
[Flags]
public enum PageRequestAccess : uint
{
    None = 0,
    Read = 1 << 0,
    Write = 1 << 1,
    Exec = 1 << 2,
    Privileged = 1 << 3,
}

/// <summary>The answer to a page request group (iommufd_page_response_code).</summary>
public enum PageResponseCode : uint
{
    /// <summary>Handled: the device retries the access.</summary>
    Success = 0,

    /// <summary>Could not be handled: the device does not retry.</summary>
    Invalid = 1,
}

/// <summary>One page request a device raised (an I/O page fault it can wait on).</summary>
public readonly record struct PageRequest(PageRequestFlags Flags, uint Pasid, uint GroupId, PageRequestAccess Access, ulong Address);
