using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.Memory;

namespace IommuFd.Core.Tests.Memory;

public sealed partial class ProcessFileMemoryTests
{
    [LibraryImport("libc", EntryPoint = "memfd_create", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int MemfdCreate(string name, uint flags);

    [LibraryImport("libc", EntryPoint = "ftruncate")]
    private static partial int Ftruncate(int fd, long length);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    [Fact]
    public void MapsAMemfdSharedAndRefusesRangesPastTheEnd()
    {
        var fd = MemfdCreate("iommufd-test", 0);
        Assert.True(fd >= 0);
        try
        {
            Assert.Equal(0, Ftruncate(fd, 8192));
            var files = ProcessFileMemory.Instance;
            Assert.Equal(Errno.EINVAL, files.MapFile(fd, 0, 8193, true, out _, out _));
            Assert.Equal(Errno.EBADF, files.MapFile(-1, 0, 4096, true, out _, out _));
            Assert.Equal(Errno.Ok, files.MapFile(fd, 100, 4000, true, out var address, out var mapping));
            Assert.Equal(Errno.Ok, ProcessUserMemory.Instance.Write(address, [7, 8, 9]));
            // A second mapping of the same file sees the bytes: the memory is the file's.
            Assert.Equal(Errno.Ok, files.MapFile(fd, 0, 4096, false, out var second, out var secondMapping));
            var read = new byte[3];
            Assert.Equal(Errno.Ok, ProcessUserMemory.Instance.Read(second + 100, read));
            Assert.Equal(new byte[] { 7, 8, 9 }, read);
            mapping.Dispose();
            secondMapping.Dispose();
            Assert.Equal(Errno.EFAULT, ProcessUserMemory.Instance.Read(second + 100, read));
        }
        finally
        {
            Close(fd);
        }
    }

    [Fact]
    public void TwoMappingsOfOneFilePageAreOnePageForPinsAndChecks()
    {
        var fd = MemfdCreate("iommufd-alias", 0);
        Assert.True(fd >= 0);
        try
        {
            Assert.Equal(0, Ftruncate(fd, 4 * 4096));
            var files = ProcessFileMemory.Instance;
            var memory = ProcessUserMemory.Instance;
            Assert.Equal(Errno.Ok, files.MapFile(fd, 0, 4 * 4096, true, out var program, out var programMapping));
            Assert.Equal(Errno.Ok, files.MapFile(fd, 4096, 2 * 4096, true, out var engine, out var engineMapping));
            using (programMapping)
            using (engineMapping)
            {
                // engine page 0 is file page 1, which the program reaches at program + 4096.
                Assert.True(memory.SamePage(engine, program + 4096 + 123));
                Assert.False(memory.SamePage(engine, program));
                Assert.False(memory.SamePage(engine + 4096, program + 3 * 4096));

                Assert.Equal(Errno.Ok, memory.Pin(engine, 2, writable: true));
                Assert.Equal(0UL, memory.PinCount(program));
                Assert.Equal(1UL, memory.PinCount(program + 4096));
                Assert.Equal(1UL, memory.PinCount(program + 2 * 4096));
                Assert.Equal(0UL, memory.PinCount(program + 3 * 4096));
                // A pin through the program's own address adds to the same page.
                Assert.Equal(Errno.Ok, memory.Pin(program + 4096, 1, writable: true));
                Assert.Equal(2UL, memory.PinCount(engine));
                memory.Unpin(program + 4096, 1);
                memory.Unpin(engine, 2);
                Assert.Equal(0UL, memory.PinCount(program + 4096));
            }
        }
        finally
        {
            Close(fd);
        }
    }

    [Fact]
    public void PrivateMemoryHasNoAliases()
    {
        var buffer = new byte[4 * 4096];
        unsafe
        {
            fixed (byte* start = buffer)
            {
                var page = CpuPage.AlignDown((ulong)start + CpuPage.Mask);
                Assert.True(ProcessUserMemory.Instance.SamePage(page, page + 4095));
                Assert.False(ProcessUserMemory.Instance.SamePage(page, page + 4096));
            }
        }
    }
}
