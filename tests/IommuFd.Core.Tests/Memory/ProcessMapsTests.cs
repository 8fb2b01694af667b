using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Tests.Memory;

/// <summary>
/// Whether real memory of this process is mapped, asked of the kernel per mapping
/// (PROCMAP_QUERY) and, as on kernels older than 6.11, by reading /proc/self/maps: the two agree,
/// answers follow munmap and mmap at once, and a MAP with a domain makes the kernel print no text.
/// </summary>
public sealed partial class ProcessMapsTests
{
    private const ulong Page = 4096;
    private const int ProtRead = 1, ProtWrite = 2, MapPrivateAnonymous = 0x22, MapFixed = 0x10;

    private static void RequireQuery()
    {
        var v = Environment.OSVersion.Version;
        if (v.Major < 6 || (v.Major == 6 && v.Minor < 11))
            Assert.Skip("PROCMAP_QUERY needs Linux 6.11");
    }

    /// <summary>Four pages: read-write, read-only, a hole, read-write.</summary>
    private static ulong MapPattern()
    {
        var at = Mmap(0, 4 * Page, ProtRead | ProtWrite, MapPrivateAnonymous, -1, 0);
        Assert.NotEqual(ulong.MaxValue, at);
        Assert.Equal(0, Mprotect(at + Page, Page, ProtRead));
        Assert.Equal(0, Munmap(at + 2 * Page, Page));
        return at;
    }

    private static IovaRange Range(ulong start, ulong pages)
    {
        Assert.True(IovaRange.TryFromLength(start, pages * Page, out var range));
        return range;
    }

    [Fact]
    public void The_query_and_the_text_agree_on_holes_and_protection()
    {
        RequireQuery();
        var at = MapPattern();
        try
        {
            (IovaRange Range, bool Writable, bool Expected)[] cases =
            [
                (Range(at, 1), true, true),
                (Range(at, 2), false, true),
                (Range(at, 2), true, false),
                (Range(at + Page, 1), false, true),
                (Range(at, 3), false, false),
                (Range(at + 2 * Page, 1), false, false),
                (Range(at + 3 * Page, 1), true, true),
                (Range(at + Page, 3), false, false),
            ];
            foreach (var (range, writable, expected) in cases)
            {
                Assert.Equal(expected, VmaQuery.Covers(0, range, writable));
                Assert.Equal(expected, ProcessMaps.CoversByText(ProcessMaps.Self, range, writable));
            }
            Assert.Equal(false, VmaQuery.Covers(0, Range(8 * Page, 1), false));
        }
        finally
        {
            Munmap(at, 4 * Page);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_pin_after_munmap_faults_and_after_a_new_mmap_succeeds(bool textOnly)
    {
        VmaQuery.Disabled = textOnly;
        try
        {
            var memory = ProcessUserMemory.Instance;
            var at = Mmap(0, 2 * Page, ProtRead | ProtWrite, MapPrivateAnonymous, -1, 0);
            var before = ProcessMaps.TextReadsOnThisThread;
            Assert.Equal(Errno.Ok, memory.Pin(at, 2, writable: true));
            memory.Unpin(at, 2);
            Assert.Equal(0, Munmap(at + Page, Page));
            Assert.Equal(Errno.EFAULT, memory.Pin(at, 2, writable: true));
            Assert.Equal(at + Page, Mmap(at + Page, Page, ProtRead, MapPrivateAnonymous | MapFixed, -1, 0));
            Assert.Equal(Errno.EFAULT, memory.Pin(at, 2, writable: true));
            Assert.Equal(Errno.Ok, memory.Pin(at, 2, writable: false));
            memory.Unpin(at, 2);
            Munmap(at, 2 * Page);
            // The forced fallback really read the text; the query did not.
            if (textOnly)
                Assert.True(ProcessMaps.TextReadsOnThisThread - before >= 4);
            else if (!VmaQuery.Unsupported)
                Assert.Equal(before, ProcessMaps.TextReadsOnThisThread);
        }
        finally
        {
            VmaQuery.Disabled = false;
        }
    }

    [Fact]
    public unsafe void A_map_with_a_mock_domain_reads_no_maps_text()
    {
        RequireQuery();
        using var context = new IommufdContext(new IommuHost(ProcessUserMemory.Instance, ulong.MaxValue));
        context.CreateIoas(out var ioas).ThrowIfError("ioas");
        context.CreateMockDevice(ioas, MockDeviceFlags.None, out _, out _).ThrowIfError("mock");
        var buffer = (byte*)NativeMemory.AlignedAlloc((nuint)(16 * Page), (nuint)Page);
        try
        {
            new Span<byte>(buffer, (int)(16 * Page)).Fill(1);
            var before = ProcessMaps.TextReadsOnThisThread;
            for (var i = 0UL; i < 16; i++)
            {
                var iova = MockDomain.ApertureStart + i * Page;
                context.Map(ioas, (ulong)buffer + i * Page, Page, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
            }
            Assert.Equal(before, ProcessMaps.TextReadsOnThisThread);
            Assert.Equal(Errno.Ok, context.Unmap(ioas, MockDomain.ApertureStart, 16 * Page, out var unmapped));
            Assert.Equal(16 * Page, unmapped);
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }

    [LibraryImport("libc", EntryPoint = "mmap")]
    private static partial ulong Mmap(ulong address, ulong length, int prot, int flags, int fd, long offset);

    [LibraryImport("libc", EntryPoint = "munmap")]
    private static partial int Munmap(ulong address, ulong length);

    [LibraryImport("libc", EntryPoint = "mprotect")]
    private static partial int Mprotect(ulong address, ulong length, int prot);
}
