using IommuFd.Core;

namespace IommuFd.Native.Tests.Infrastructure;

/// <summary>A route that records what reached it and answers with fixed results.</summary>
internal sealed class RecordingRoute : IEngineRoute
{
    public const long OpenedHandle = 0x77;
    public const int IoctlResult = 5;
    public const long TransferResult = 3;

    private readonly Lock _lock = new();

    public List<string> Calls { get; } = [];

    public IEngineRoute? Child { get; set; }

    public int Prepared { get; private set; }

    public int ResumedInParent { get; private set; }

    public long Open() => Record("open", OpenedHandle);

    public int Ioctl(long handle, ulong command, ulong arg) => Record($"ioctl 0x{handle:x} 0x{command:x}", IoctlResult);

    public void Close(long handle) => Record($"close 0x{handle:x}", 0);

    public void ReleaseObject(ulong cookie) => Record($"release 0x{cookie:x}", 0);

    public long ObjectRead(ulong cookie, ulong buffer, ulong length) => Record($"read 0x{cookie:x}", TransferResult);

    public long ObjectWrite(ulong cookie, ulong buffer, ulong length) => Record($"write 0x{cookie:x}", TransferResult);

    public unsafe int ProcessPins(int pid, PinCounts* counts)
    {
        *counts = new PinCounts { PinnedPages = (ulong)pid };
        return Record($"pins {pid}", 0);
    }

    public long Mmap(long handle, ulong offset, ulong length, ulong destination) => Record($"mmap 0x{handle:x} 0x{offset:x}", TransferResult);

    public void Munmap(ulong cookie) => Record($"munmap 0x{cookie:x}", 0);

    public int FailNthSet(int tid, uint n) => Record($"fail-nth {tid} = {n}", 0);

    public long FailNthGet(int tid) => Record($"fail-nth {tid}", 0L);

    public IEngineRoute ForChild() => Child ?? throw new InvalidOperationException("no child route set");

    public void PrepareFork() => Prepared++;

    public void AfterForkInParent() => ResumedInParent++;

    private T Record<T>(string call, T result)
    {
        lock (_lock)
            Calls.Add(call);
        return result;
    }

    public static int Errno(Errno errno) => -(int)errno;
}
