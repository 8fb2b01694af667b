using IommuFd.Core.Memory;

namespace IommuFd.Core.Tests.Infrastructure;

/// <summary>
/// Files for a simulated host: each MAP_FILE maps a fresh region of the simulated memory at an
/// address of our choosing (deliberately only page aligned), and its disposal unmaps it, so a
/// test sees when the engine lets go of a file mapping and whose alignment it used.
/// </summary>
internal sealed class SimulatedFileMemory(SimulatedUserMemory memory, ulong fileSize) : IFileMemory
{
    // Page aligned and no more, so a placement taken from this address is told apart from one taken from the file offset.
    private ulong _next = 0x7000_1000;

    public List<Mapping> Mappings { get; } = [];

    public Errno MapFile(int fd, ulong start, ulong length, bool writable, out ulong address, out IDisposable mapping)
    {
        address = 0;
        mapping = null!;
        if (fd < 0)
            return Errno.EBADF;
        if (length == 0 || start > fileSize || length > fileSize - start)
            return Errno.EINVAL;
        var offset = CpuPage.AlignDown(start);
        var span = CpuPage.AlignDown(start - offset + length + CpuPage.Mask);
        var at = _next;
        _next += span + 2 * CpuPage.Size + CpuPage.Size;
        memory.Map(at, span, writable);
        address = at + (start - offset);
        var made = new Mapping(memory, at);
        Mappings.Add(made);
        mapping = made;
        return Errno.Ok;
    }

    public sealed class Mapping(SimulatedUserMemory memory, ulong address) : IDisposable
    {
        public bool Released { get; private set; }

        public void Dispose()
        {
            if (Released)
                throw new InvalidOperationException("a file mapping released twice");
            Released = true;
            memory.Unmap(address);
        }
    }
}
