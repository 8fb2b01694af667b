using System.Runtime.CompilerServices;
using IommuFd.Abi.Handlers;
using IommuFd.Abi.Uapi;

namespace IommuFd.Abi.Dispatch;

/// <summary>
/// Every iommufd command the engine implements, indexed by its number. A command missing here is
/// ENOTTY, exactly as for a kernel that predates it.
/// </summary>
public static class IoctlTable
{
    private static readonly IoctlOp?[] Ops = Build();

    public static IEnumerable<IoctlOp> All => Ops.OfType<IoctlOp>();

    /// <summary>True when the command's number falls inside the table (0x80 up to the self-test command).</summary>
    public static bool InRange(uint command) =>
        IoctlNumbers.NumberOf(command) - IoctlNumbers.CommandBase < (uint)Ops.Length;

    /// <summary>The row for <paramref name="command"/>'s number, if any; the caller compares the full number.</summary>
    public static IoctlOp? Find(uint command)
    {
        var nr = IoctlNumbers.NumberOf(command);
        var index = nr - IoctlNumbers.CommandBase;
        return index < (uint)Ops.Length ? Ops[index] : null;
    }

    private static IoctlOp?[] Build()
    {
        var ops = new IoctlOp?[IoctlNumbers.TestCmd - IoctlNumbers.CommandBase + 1];
        Add(ops, "IOMMU_DESTROY", IoctlNumbers.Destroy, static ref uint (ref IommuDestroy s) => ref s.Id, CommonHandlers.Destroy);
        Add(ops, "IOMMU_IOAS_ALLOC", IoctlNumbers.IoasAlloc, static ref uint (ref IommuIoasAlloc s) => ref s.OutIoasId, IoasHandlers.Alloc);
        Add(ops, "IOMMU_IOAS_ALLOW_IOVAS", IoctlNumbers.IoasAllowIovas, static ref ulong (ref IommuIoasAllowIovas s) => ref s.AllowedIovas, IoasHandlers.AllowIovas);
        Add(ops, "IOMMU_IOAS_COPY", IoctlNumbers.IoasCopy, static ref ulong (ref IommuIoasCopy s) => ref s.SrcIova, IoasHandlers.Copy);
        Add(ops, "IOMMU_IOAS_IOVA_RANGES", IoctlNumbers.IoasIovaRanges, static ref ulong (ref IommuIoasIovaRanges s) => ref s.OutIovaAlignment, IoasHandlers.IovaRanges);
        Add(ops, "IOMMU_IOAS_MAP", IoctlNumbers.IoasMap, static ref ulong (ref IommuIoasMap s) => ref s.Iova, IoasHandlers.Map);
        Add(ops, "IOMMU_IOAS_UNMAP", IoctlNumbers.IoasUnmap, static ref ulong (ref IommuIoasUnmap s) => ref s.Length, IoasHandlers.Unmap);
        Add(ops, "IOMMU_OPTION", IoctlNumbers.Option, static ref ulong (ref IommuOption s) => ref s.Val64, CommonHandlers.Option);
        Add(ops, "IOMMU_IOAS_MAP_FILE", IoctlNumbers.IoasMapFile, static ref ulong (ref IommuIoasMapFile s) => ref s.Iova, IoasHandlers.MapFile);
        Add(ops, "IOMMU_VFIO_IOAS", IoctlNumbers.VfioIoas, static ref ushort (ref IommuVfioIoas s) => ref s.Reserved, CompatHandlers.VfioIoas);
        Add(ops, "IOMMU_HWPT_ALLOC", IoctlNumbers.HwptAlloc, static ref uint (ref IommuHwptAlloc s) => ref s.Reserved, HwptHandlers.Alloc);
        Add(ops, "IOMMU_GET_HW_INFO", IoctlNumbers.GetHwInfo, static ref byte (ref IommuHwInfo s) => ref s.Reserved2, HwptHandlers.GetHwInfo);
        Add(ops, "IOMMU_HWPT_SET_DIRTY_TRACKING", IoctlNumbers.HwptSetDirtyTracking, static ref uint (ref IommuHwptSetDirtyTracking s) => ref s.Reserved, DirtyHandlers.SetTracking);
        Add(ops, "IOMMU_HWPT_GET_DIRTY_BITMAP", IoctlNumbers.HwptGetDirtyBitmap, static ref ulong (ref IommuHwptGetDirtyBitmap s) => ref s.Data, DirtyHandlers.GetBitmap);
        Add(ops, "IOMMU_FAULT_QUEUE_ALLOC", IoctlNumbers.FaultQueueAlloc, static ref uint (ref IommuFaultAlloc s) => ref s.OutFaultFd, FaultHandlers.Alloc);
        Add(ops, "IOMMU_HWPT_INVALIDATE", IoctlNumbers.HwptInvalidate, static ref uint (ref IommuHwptInvalidate s) => ref s.Reserved, HwptHandlers.Invalidate);
        Add(ops, "IOMMU_VIOMMU_ALLOC", IoctlNumbers.ViommuAlloc, static ref uint (ref IommuViommuAlloc s) => ref s.OutViommuId, ViommuHandlers.Alloc);
        Add(ops, "IOMMU_VDEVICE_ALLOC", IoctlNumbers.VdeviceAlloc, static ref ulong (ref IommuVdeviceAlloc s) => ref s.VirtId, ViommuHandlers.VdeviceAlloc);
        Add(ops, "IOMMU_VEVENTQ_ALLOC", IoctlNumbers.VeventqAlloc, static ref uint (ref IommuVeventqAlloc s) => ref s.Reserved, ViommuHandlers.VeventqAlloc);
        Add(ops, "IOMMU_HW_QUEUE_ALLOC", IoctlNumbers.HwQueueAlloc, static ref ulong (ref IommuHwQueueAlloc s) => ref s.Length, ViommuHandlers.HwQueueAlloc);
        Add(ops, "IOMMU_IOAS_CHANGE_PROCESS", IoctlNumbers.IoasChangeProcess, static ref uint (ref IommuIoasChangeProcess s) => ref s.Reserved, CompatHandlers.ChangeProcess);
        Add(ops, "IOMMU_TEST_CMD", IoctlNumbers.TestCmd, static ref uint (ref IommuTestCmd s) => ref s.Last, TestCmdHandlers.Dispatch);
        return ops;
    }

    /// <summary>Picks a field of a struct, so its end can be measured without reflection (AOT-safe).</summary>
    private delegate ref TField FieldOf<T, TField>(ref T s);

    /// <summary>Adds a row; the minimum size is the end of <paramref name="lastField"/> (the kernel's offsetofend).</summary>
    private static void Add<T, TField>(IoctlOp?[] ops, string name, uint nr, FieldOf<T, TField> lastField, CommandHandler handler)
        where T : unmanaged where TField : unmanaged
    {
        var size = Unsafe.SizeOf<T>();
        if (size > IoctlDispatcher.MaxStructSize)
            throw new InvalidOperationException($"{name}: struct of {size} bytes exceeds the command buffer");
        var probe = default(T);
        var offset = (int)Unsafe.ByteOffset(ref Unsafe.As<T, byte>(ref probe), ref Unsafe.As<TField, byte>(ref lastField(ref probe)));
        var minSize = offset + Unsafe.SizeOf<TField>();
        ops[nr - IoctlNumbers.CommandBase] = new IoctlOp(name, IoctlNumbers.Io(nr), size, minSize, handler, StructText.Describe<T>);
    }
}
