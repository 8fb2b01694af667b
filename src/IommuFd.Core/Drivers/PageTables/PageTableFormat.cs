using System.Numerics;

namespace IommuFd.Core.Drivers.PageTables;

/// <summary>
/// The geometry of a radix I/O page table plus its PTE codec. A table is one granule of 8-byte
/// entries, so each level resolves log2(granule) - 3 bits. The top is dynamic: a fresh table has
/// <see cref="StartLevels"/> levels and grows (up to the input width) when an IOVA needs it.
/// Hardware formats have a fixed walk length chosen by the address width: they start with all
/// <see cref="MaxLevels"/> levels (<see cref="FixedLevels"/>), so the top never grows or collapses.
/// </summary>
public sealed class PageTableFormat<TCodec> where TCodec : struct, IPteCodec
{
    public const int PteSize = 8;

    public PageTableFormat(string name, int granuleShift, int inputBits, int outputBits, int startLevels, ulong leafSizes, TCodec codec)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(granuleShift, 6);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(granuleShift, 16);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(inputBits, 64);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(inputBits, granuleShift);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(outputBits, 64);
        Name = name;
        GranuleShift = granuleShift;
        BitsPerLevel = granuleShift - 3;
        InputBits = inputBits;
        OutputBits = outputBits;
        MaxLevels = (inputBits - granuleShift + BitsPerLevel - 1) / BitsPerLevel;
        ArgumentOutOfRangeException.ThrowIfLessThan(startLevels, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(startLevels, MaxLevels);
        StartLevels = startLevels;
        if (leafSizes == 0 || BitOperations.TrailingZeroCount(leafSizes) < granuleShift)
            throw new ArgumentException("leaf sizes must be non-empty and at least one granule", nameof(leafSizes));
        if (63 - BitOperations.LeadingZeroCount(leafSizes) >= CoverageBits(MaxLevels - 1))
            throw new ArgumentException("a leaf size exceeds what the top level covers", nameof(leafSizes));
        LeafSizes = leafSizes;
        Codec = codec;
    }

    public string Name { get; }

    /// <summary>log2 of the table size in bytes, which is also the level-0 page size.</summary>
    public int GranuleShift { get; }

    public ulong GranuleSize => 1UL << GranuleShift;

    public int BitsPerLevel { get; }

    public int EntriesPerTable => 1 << BitsPerLevel;

    /// <summary>Width of the IOVA the format can translate (64 means the whole space).</summary>
    public int InputBits { get; }

    public ulong InputLast => InputBits == 64 ? ulong.MaxValue : (1UL << InputBits) - 1;

    /// <summary>Width of the output address the PTE address field can hold.</summary>
    public int OutputBits { get; }

    public ulong OutputLast => OutputBits == 64 ? ulong.MaxValue : (1UL << OutputBits) - 1;

    public int StartLevels { get; }

    public int MaxLevels { get; }

    /// <summary>True when every table of this format has exactly <see cref="MaxLevels"/> levels, as hardware walks them.</summary>
    public bool FixedLevels => StartLevels == MaxLevels;

    /// <summary>A format whose walk always has the levels its input width needs (the root covers the whole input space).</summary>
    public static PageTableFormat<TCodec> Fixed(string name, int granuleShift, int inputBits, int outputBits, ulong leafSizes, TCodec codec)
    {
        var bitsPerLevel = granuleShift - 3;
        var levels = (inputBits - granuleShift + bitsPerLevel - 1) / bitsPerLevel;
        return new PageTableFormat<TCodec>(name, granuleShift, inputBits, outputBits, levels, leafSizes, codec);
    }

    /// <summary>Every page size (bit n = 2^n bytes) the encoding can hold as a leaf.</summary>
    public ulong LeafSizes { get; }

    public TCodec Codec { get; }

    /// <summary>log2 of the bytes one entry of a level-<paramref name="level"/> table maps.</summary>
    public int LevelShift(int level) => GranuleShift + level * BitsPerLevel;

    /// <summary>log2 of the IOVA span of a whole level-<paramref name="level"/> table, capped at the input width.</summary>
    public int CoverageBits(int level) => Math.Min(InputBits, LevelShift(level + 1));

    public override string ToString() => Name;
}
