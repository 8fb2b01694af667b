namespace IommuFd.Core.Drivers.PageTables;

/// <summary>The result of a walk: the output address for the IOVA and the leaf it went through.</summary>
public readonly record struct PageTranslation(ulong OutputAddress, IoProt Prot, ulong PageSize);
