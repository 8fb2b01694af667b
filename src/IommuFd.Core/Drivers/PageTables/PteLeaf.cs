namespace IommuFd.Core.Drivers.PageTables;

/// <summary>A decoded leaf: the page's output base address, its size and permissions.</summary>
public readonly record struct PteLeaf(ulong OutputAddress, int SizeLog2, IoProt Prot);
