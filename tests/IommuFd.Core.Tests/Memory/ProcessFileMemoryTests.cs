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
}
