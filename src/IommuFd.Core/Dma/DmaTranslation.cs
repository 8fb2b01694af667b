namespace IommuFd.Core.Dma;

/// <summary>What one walk found: the page holding the address (output base, size) and its permissions.</summary>
public readonly record struct DmaTranslation(ulong OutputBase, int SizeLog2, IoProt Prot)
{
    public ulong Size => 1UL << SizeLog2;
}
