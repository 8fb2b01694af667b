namespace IommuFd.Native;

/// <summary>
/// Where a call of the C ABI runs, chosen once per process epoch (<see cref="EpochRouter"/>):
/// this process's engine (<see cref="LocalEngine"/>), or, in a forked child, the child's own
/// engine and the parent's through the fork link (<see cref="Fork.ChildRoute"/>). Results are
/// &gt;= 0 or a negative errno (<see cref="NativeResult"/>).
/// </summary>
/// <remarks>
/// One group of members per kind of emulated fd (native/preload/iommufd_emu.h): an iommufd
/// context (Open/Ioctl/Close), an object fd (ReleaseObject/ObjectRead/ObjectWrite), a mapping of a context's fd (Mmap/Munmap). A new kind
/// adds its group here, its exports in <see cref="Exports"/> and a kind_*.c file in the shim.
/// </remarks>
internal interface IEngineRoute
{
    long Open();

    int Ioctl(long handle, ulong command, ulong arg);

    void Close(long handle);

    void ReleaseObject(ulong cookie);

    long ObjectRead(ulong cookie, ulong buffer, ulong length);

    long ObjectWrite(ulong cookie, ulong buffer, ulong length);

    /// <summary>
    /// The emulated kernel's pins of process <paramref name="pid"/> (what its /proc status shows):
    /// 0 with <paramref name="counts"/> filled, or -ENOENT when no engine this route reaches
    /// charged or served that process. Must not allocate in a forked child.
    /// </summary>
    unsafe int ProcessPins(int pid, PinCounts* counts);

    /// <summary>mmap of a context's fd: copies the region at (offset, length) to <paramref name="destination"/>; a mapping cookie &gt; 0, or -errno.</summary>
    long Mmap(long handle, ulong offset, ulong length, ulong destination);

    /// <summary>The mapping <paramref name="cookie"/> was unmapped.</summary>
    void Munmap(ulong cookie);

    /// <summary>Thread <paramref name="tid"/>'s fail-nth countdown, for the engine that runs this process's own contexts (docs/fault-injection.md): 0 or -errno.</summary>
    int FailNthSet(int tid, uint n);

    /// <summary>Thread <paramref name="tid"/>'s fail-nth countdown: what is left, 0 once injected or off.</summary>
    long FailNthGet(int tid);

    /// <summary>The route for a child forked from this epoch. Runs in the child: must not allocate.</summary>
    IEngineRoute ForChild();

    /// <summary>Parent, in fork's prepare handler: nothing may be mid-change in the engine after this.</summary>
    void PrepareFork();

    /// <summary>Parent, in fork's parent handler: undo <see cref="PrepareFork"/>.</summary>
    void AfterForkInParent();
}
