namespace IommuFd.Core.Dma;

/// <summary>Which way a DMA moves bytes, seen from the device: it reads memory or writes it.</summary>
public enum DmaDirection
{
    Read,
    Write,
}
