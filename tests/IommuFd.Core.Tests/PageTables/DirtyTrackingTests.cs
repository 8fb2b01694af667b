using IommuFd.Core;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Tests.PageTables;

/// <summary>
/// Hardware access/dirty state through the walk API: a permitted write through <c>TryTranslate</c> marks its
/// leaf dirty, reads and refused writes do not, the dirty read reports whole leaves clipped to the range and
/// clears them, and a split keeps the dirty state of the parts that stay mapped.
/// </summary>
public sealed class DirtyTrackingTests
{
    private const ulong K4 = 1UL << 12, M2 = 1UL << 21;
    private const ulong Base = 1UL << 30, Output = 1UL << 33;

    [Theory]
    [InlineData("vtd-ss-4", true)]
    [InlineData("x86-fs-5", true)]
    [InlineData("amdv1-4", true)]
    [InlineData("arm-s1-4k-dbm", true)]
    [InlineData("arm-s2-4k-dbm", true)]
    [InlineData("arm-s1-4k", false)]
    public void WritesMarkTheirLeafDirty(string format, bool tracksDirty) => FormatCatalog.Run(format, new Body(tracksDirty));

    private sealed class Body(bool tracksDirty) : IFormatTest
    {
        public void Run<TCodec>(PageTableFormat<TCodec> format, ulong pageSizes) where TCodec : struct, IPteCodec
        {
            var table = new RadixPageTable<TCodec>(format, pageSizes & (K4 | M2));
            // [Base, +2 MiB) one 2 MiB leaf; then 16 pages of 4 KiB, the last 4 read-only.
            Assert.Equal(Errno.Ok, table.Map(Base, Output, M2, IoProt.Read | IoProt.Write));
            Assert.Equal(Errno.Ok, table.Map(Base + M2, Output + M2, 12 * K4, IoProt.Read | IoProt.Write));
            Assert.Equal(Errno.Ok, table.Map(Base + M2 + 12 * K4, Output + M2 + 12 * K4, 4 * K4, IoProt.Read));
            Assert.Equal(1, table.LeafCount(M2));

            Assert.Equal(PageWalkStatus.Translated, table.TryTranslate(Base + 0x1234, write: true, setAccessedDirty: true, out var t));
            Assert.Equal(Output + 0x1234, t.OutputAddress);
            Assert.Equal(M2, t.PageSize);
            Assert.Equal(PageWalkStatus.Translated, table.TryTranslate(Base + M2 + 3 * K4 + 8, write: true, setAccessedDirty: true, out _));
            Assert.Equal(PageWalkStatus.Translated, table.TryTranslate(Base + M2 + 5 * K4, write: false, setAccessedDirty: true, out _));
            Assert.Equal(PageWalkStatus.Translated, table.TryTranslate(Base + M2 + 7 * K4, write: true, setAccessedDirty: false, out _));
            Assert.Equal(PageWalkStatus.PermissionDenied, table.TryTranslate(Base + M2 + 13 * K4, write: true, setAccessedDirty: true, out t));
            Assert.Equal(Output + M2 + 13 * K4, t.OutputAddress);
            Assert.Equal(PageWalkStatus.NotMapped, table.TryTranslate(Base + M2 + 16 * K4, write: false, setAccessedDirty: true, out _));
            Assert.Null(table.Validate());

            // Read without clearing, over the range from the middle of the 2 MiB leaf: the leaf is clipped.
            var bitmap = new ulong[16];
            var window = M2 + 16 * K4;
            var from = Base + M2 / 2;
            var bytes = table.ReadAndClearDirty(from, window - M2 / 2, K4, bitmap, clear: false);
            if (!tracksDirty)
            {
                Assert.Equal(0UL, bytes);
                Assert.All(bitmap, w => Assert.Equal(0UL, w));
                return;
            }
            Assert.Equal(M2 / 2 + K4, bytes);
            var dirtyPages = Pages(bitmap);
            Assert.Equal([.. Enumerable.Range(0, 256), 256 + 3], dirtyPages);

            // Now clear over a range covering only the 4 KiB pages and 1 page of the big leaf: the whole leaf is cleared.
            Array.Clear(bitmap);
            Assert.Equal(2 * K4, table.ReadAndClearDirty(Base + M2 - K4, 17 * K4, K4, bitmap, clear: true));
            Assert.Equal([0, 4], Pages(bitmap));
            Array.Clear(bitmap);
            Assert.Equal(0UL, table.ReadAndClearDirty(Base, window, K4, bitmap, clear: true));
            Assert.Null(table.Validate());

            // A write into the 2 MiB leaf, then a one-page unmap: the parts that stay keep the dirty state.
            Assert.Equal(PageWalkStatus.Translated, table.TryTranslate(Base + 5 * K4, write: true, setAccessedDirty: true, out _));
            Assert.Equal(K4, table.Unmap(Base + 100 * K4, K4));
            Assert.Equal(0, table.LeafCount(M2));
            var big = new ulong[8];
            Assert.Equal(M2 - K4, table.ReadAndClearDirty(Base, M2, K4, big, clear: true));
            Assert.Equal(Enumerable.Range(0, 512).Where(p => p != 100), Pages(big));
            Assert.Null(table.Validate());
        }

        private static int[] Pages(ulong[] bitmap) =>
            [.. Enumerable.Range(0, bitmap.Length * 64).Where(i => (bitmap[i / 64] & (1UL << (i % 64))) != 0)];
    }

    [Fact]
    public void SizeCodedRunIsDirtyThroughAnyEntry()
    {
        // AMD: a 16 KiB page is 4 replicated entries; hardware marks the one it walked through.
        var table = new RadixPageTable<AmdV1PteCodec>(AmdV1Formats.Host4Level, AmdV1Formats.Host4Level.LeafSizes);
        Assert.Equal(Errno.Ok, table.Map(Base, Output, 4 * K4, IoProt.Read | IoProt.Write));
        Assert.Equal(PageWalkStatus.Translated, table.TryTranslate(Base + 2 * K4, write: true, setAccessedDirty: true, out _));
        var path = HardwareEncodingTests.RawWalk(table, Base + 2 * K4);
        Assert.Equal(AmdV1PteCodec.Accessed | AmdV1PteCodec.Dirty, path[^1] & (AmdV1PteCodec.Accessed | AmdV1PteCodec.Dirty));
        Assert.Equal(0UL, HardwareEncodingTests.RawWalk(table, Base)[^1] & AmdV1PteCodec.Dirty);
        Assert.Null(table.Validate());
        var bitmap = new ulong[1];
        Assert.Equal(4 * K4, table.ReadAndClearDirty(Base, 4 * K4, K4, bitmap, clear: true));
        Assert.Equal(0xfUL, bitmap[0]);
        Assert.Equal(0UL, HardwareEncodingTests.RawWalk(table, Base + 2 * K4)[^1] & AmdV1PteCodec.Dirty);
    }
}
