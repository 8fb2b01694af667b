namespace IommuFd.Core.Pages;

/// <summary>Who pays for pinned pages (IOMMU_OPTION_RLIMIT_MODE): the user (0) or the process (1).</summary>
public enum AccountMode : ulong
{
    User = 0,
    Process = 1,
}
