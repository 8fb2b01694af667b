using System.Numerics;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Dma;

/// <summary>
/// A stage 1 kept in managed memory, one context per PASID, for nested domains whose format does
/// not yet read its tables from program memory (the mock's). A context is either a bypass
/// (output = input, as an SMMU stream with stage 1 bypassed) or a table the embedder edits with
/// <see cref="Map"/> / <see cref="Unmap"/>, standing in for the guest writing its page table. Edits
/// are not invalidations: devices keep using what their IOTLB cached until the program invalidates.
/// </summary>
public sealed class SoftStageOne
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, RadixPageTable<AmdV1PteCodec>?> _contexts = new() { [Iotlb.NoPasid] = null };

    /// <summary>Makes <paramref name="pasid"/>'s context a bypass (requests without a PASID start as one).</summary>
    public void Bypass(uint pasid)
    {
        lock (_lock)
            _contexts[pasid] = null;
    }

    /// <summary>Removes <paramref name="pasid"/>'s context: its requests fault.</summary>
    public void Remove(uint pasid)
    {
        lock (_lock)
            _contexts.Remove(pasid);
    }

    /// <summary>Maps [iova, +length) to stage-2 input addresses from <paramref name="output"/> (4 KiB aligned); a bypass becomes a table.</summary>
    public Errno Map(uint pasid, ulong iova, ulong output, ulong length, IoProt prot)
    {
        lock (_lock)
        {
            if (!_contexts.TryGetValue(pasid, out var table) || table is null)
                _contexts[pasid] = table = new RadixPageTable<AmdV1PteCodec>(AmdV1Formats.Standard4K, AmdV1Formats.Standard4K.LeafSizes);
            return table.Map(iova, output, length, prot);
        }
    }

    public void Unmap(uint pasid, ulong iova, ulong length)
    {
        lock (_lock)
        {
            if (_contexts.TryGetValue(pasid, out var table) && table is not null)
                table.Unmap(iova, length);
        }
    }

    public StageOneWalk Walk(uint pasid, ulong iova, out DmaTranslation translation)
    {
        translation = default;
        lock (_lock)
        {
            if (!_contexts.TryGetValue(pasid, out var table))
                return StageOneWalk.NoContext;
            if (table is null)
            {
                // A bypass passes addresses through; 4 KiB pages keep the IOTLB keyed like the tables'.
                translation = new DmaTranslation(iova & ~CpuPage.Mask, CpuPage.Shift, IoProt.Read | IoProt.Write);
                return StageOneWalk.Ok;
            }
            if (table.Translate(iova) is not { } t)
                return StageOneWalk.NotMapped;
            translation = new DmaTranslation(t.OutputAddress & ~(t.PageSize - 1), BitOperations.Log2(t.PageSize), t.Prot);
            return StageOneWalk.Ok;
        }
    }
}
