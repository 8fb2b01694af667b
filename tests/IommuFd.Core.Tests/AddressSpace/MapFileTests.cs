using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.AddressSpace;

/// <summary>MAP_FILE as the kernel does it: IOVA placement by file offset, and file pages that live as long as anything maps them.</summary>
public sealed class MapFileTests
{
    private const ulong MiB = 1 << 20;
    private const ulong Length = 64 * 1024;

    private static (IommufdContext, SimulatedFileMemory) NewContext()
    {
        var memory = new SimulatedUserMemory();
        var files = new SimulatedFileMemory(memory, 8 * MiB);
        return (new IommufdContext(new IommuHost(memory, ulong.MaxValue) { FileMemory = files }), files);
    }

    [Theory]
    [InlineData(2 * MiB, 2 * MiB, 2 * MiB)]
    [InlineData(64 * 1024, 64 * 1024, 64 * 1024)]
    [InlineData(0x8000, 0x4000, 0x4000)]
    public void AnAutomaticIovaKeepsTheFileOffsetsAlignment(ulong start, ulong length, ulong expected)
    {
        var (context, _) = NewContext();
        context.CreateIoas(out var ioas).ThrowIfError("ioas");
        var iova = 0UL;
        Assert.Equal(Errno.Ok, context.MapFile(ioas, 3, start, length, IoProt.Read | IoProt.Write, IovaPlacement.Automatic, ref iova));
        Assert.Equal(expected, iova);

        // A COPY of it places by the same file offset.
        context.CreateIoas(out var other).ThrowIfError("ioas");
        var copied = 0UL;
        Assert.Equal(Errno.Ok, context.Copy(other, ioas, iova, length, IoProt.Read, IovaPlacement.Automatic, ref copied));
        Assert.Equal(expected, copied);
    }

    [Fact]
    public void AFailedMapFileReleasesItsFileMappingAtOnce()
    {
        var (context, files) = NewContext();
        context.CreateIoas(out var ioas).ThrowIfError("ioas");
        var iova = 0x10_0000UL;
        context.MapFile(ioas, 3, 0, Length, IoProt.Read, IovaPlacement.Fixed, ref iova).ThrowIfError("map file");
        Assert.Equal(Errno.EEXIST, context.MapFile(ioas, 3, 0, Length, IoProt.Read, IovaPlacement.Fixed, ref iova));
        Assert.Equal(2, files.Mappings.Count);
        Assert.False(files.Mappings[0].Released);
        Assert.True(files.Mappings[1].Released);
    }

    [Fact]
    public void ACopyKeepsTheSourcesFileMappedAfterTheSourceIsUnmapped()
    {
        var (context, files) = NewContext();
        context.CreateIoas(out var src).ThrowIfError("ioas");
        context.CreateIoas(out var dst).ThrowIfError("ioas");
        var srcTable = context.Objects.Peek<Ioas>(src).PageTable;
        var dstTable = context.Objects.Peek<Ioas>(dst).PageTable;
        var iova = 0UL;
        context.MapFile(src, 3, 0, Length, IoProt.Read | IoProt.Write, IovaPlacement.Automatic, ref iova).ThrowIfError("map file");
        var mapping = Assert.Single(files.Mappings);

        // The steps of a COPY, with the source's UNMAP between reading it and mapping the copy.
        Assert.Equal(Errno.Ok, srcTable.GetPages(iova, Length, out var slices));
        Assert.Equal(Errno.Ok, srcTable.Unmap(iova, Length, out _));
        Assert.False(mapping.Released, "the COPY in flight still holds the file's pages");
        var copied = 0UL;
        Assert.Equal(Errno.Ok, dstTable.MapSlices(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(slices), Length, IoProt.Read, allocateIova: true, ref copied));
        foreach (var slice in slices)
            slice.Pages.Release();
        Assert.False(mapping.Released, "the copy maps the file's pages");
        Assert.NotNull(dstTable.Translate(copied, out _));

        Assert.Equal(Errno.Ok, dstTable.Unmap(copied, Length, out _));
        Assert.True(mapping.Released, "nothing maps the file any more");
    }
}
