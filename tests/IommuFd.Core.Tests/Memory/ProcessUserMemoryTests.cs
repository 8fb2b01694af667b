using System.Runtime.InteropServices;
using IommuFd.Core;
using IommuFd.Core.Memory;

namespace IommuFd.Core.Tests.Memory;

public sealed class ProcessUserMemoryTests
{
    [Fact]
    public unsafe void ReadsAndWritesThisProcessAndFaultsOnBadAddresses()
    {
        var memory = ProcessUserMemory.Instance;
        var buffer = (byte*)NativeMemory.AlignedAlloc(8192, 4096);
        try
        {
            new Span<byte>(buffer, 8192).Fill(0x5a);
            Span<byte> read = stackalloc byte[16];
            Assert.Equal(Errno.Ok, memory.Read((ulong)buffer + 100, read));
            Assert.True(read.IndexOfAnyExcept((byte)0x5a) < 0);
            Assert.Equal(Errno.Ok, memory.Write((ulong)buffer + 200, [1, 2, 3]));
            Assert.Equal(2, buffer[201]);

            Assert.Equal(Errno.EFAULT, memory.Read(8, read));
            Assert.Equal(Errno.EFAULT, memory.Write(8, [1]));
            Assert.Equal(Errno.EFAULT, memory.Read(ulong.MaxValue - 4, read));

            Assert.Equal(Errno.Ok, memory.Pin((ulong)buffer, 2, writable: true));
            Assert.Equal(1UL, memory.PinCount((ulong)buffer + 4096));
            memory.Unpin((ulong)buffer, 2);
            Assert.Equal(0UL, memory.PinCount((ulong)buffer));
            Assert.Equal(Errno.EFAULT, memory.Pin(0x1000, 1, writable: false));
        }
        finally
        {
            NativeMemory.AlignedFree(buffer);
        }
    }
}
