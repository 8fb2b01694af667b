using System.Buffers.Binary;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Handlers;

/// <summary>
/// The VFIO type1 container API on an iommufd (numbers below the iommufd range): programs written
/// for /dev/vfio/vfio work on the compatibility IOAS chosen with IOMMU_VFIO_IOAS. Facts (numbers,
/// minimum sizes, flags) from include/uapi/linux/vfio.h and the kernel's vfio_compat.c.
/// </summary>
internal static class VfioCompat
{
    private const uint Base = 100;
    public const uint GetApiVersion = Base + 0;
    public const uint CheckExtension = Base + 1;
    public const uint SetIommu = Base + 2;
    public const uint IommuGetInfo = Base + 12;
    public const uint MapDma = Base + 13;
    public const uint UnmapDma = Base + 14;

    private const int ApiVersion = 0;
    private const ulong Type1 = 1, Type1v2 = 3, UnmapAll = 9;
    private const uint MapRead = 1, MapWrite = 2;
    private const uint UnmapFlagAll = 2;

    /// <summary>Runs a VFIO-compat ioctl: a non-negative result, or a negative errno (ENOTTY when unknown).</summary>
    public static int Ioctl(IommufdContext context, IommuHost caller, uint command, ulong arg)
    {
        if (command >> 8 != IoctlNumbers.Type || command >> 16 != 0)
            return -(int)Errno.ENOTTY;
        return IoctlNumbers.NumberOf(command) switch
        {
            GetApiVersion => ApiVersion,
            CheckExtension => arg is Type1 or Type1v2 or UnmapAll ? 1 : 0,
            SetIommu => -(int)SetIommuType(context, arg),
            IommuGetInfo => -(int)VfioCompatInfo.Get(context, caller, arg),
            MapDma => -(int)Map(context, caller, arg),
            UnmapDma => -(int)Unmap(context, caller, arg),
            _ => -(int)Errno.ENOTTY,
        };
    }

    private static Errno SetIommuType(IommufdContext context, ulong type)
    {
        if (type != Type1 && type != Type1v2)
            return Errno.EINVAL;
        return context.SetCompatIommu(version2: type == Type1v2);
    }

    /// <summary>Reads the fixed part (EFAULT), then checks argsz and flags (EINVAL), then the compat IOAS (ENODEV).</summary>
    private static Errno ReadHeader(IommufdContext context, IommuHost caller, ulong arg, Span<byte> fixedPart, uint knownFlags, out IoasId ioas)
    {
        ioas = default;
        if (UserCopy.From(caller.Memory, arg, fixedPart) != Errno.Ok)
            return Errno.EFAULT;
        var argsz = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart);
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(fixedPart[4..]);
        if (argsz < fixedPart.Length || (flags & ~knownFlags) != 0)
            return Errno.EINVAL;
        return context.GetCompatIoas(out ioas);
    }

    private static Errno Map(IommufdContext context, IommuHost caller, ulong arg)
    {
        Span<byte> map = stackalloc byte[32];
        var rc = ReadHeader(context, caller, arg, map, MapRead | MapWrite, out var ioas);
        if (rc != Errno.Ok)
            return rc;
        var flags = BinaryPrimitives.ReadUInt32LittleEndian(map[4..]);
        var vaddr = BinaryPrimitives.ReadUInt64LittleEndian(map[8..]);
        var iova = BinaryPrimitives.ReadUInt64LittleEndian(map[16..]);
        var size = BinaryPrimitives.ReadUInt64LittleEndian(map[24..]);
        var prot = ((flags & MapRead) != 0 ? IoProt.Read : IoProt.None) | ((flags & MapWrite) != 0 ? IoProt.Write : IoProt.None);
        return context.Map(ioas, vaddr, size, prot, IovaPlacement.Fixed, ref iova, caller);
    }

    private static Errno Unmap(IommufdContext context, IommuHost caller, ulong arg)
    {
        Span<byte> unmap = stackalloc byte[24];
        var rc = ReadHeader(context, caller, arg, unmap, UnmapFlagAll, out _);
        if (rc != Errno.Ok)
            return rc;
        var all = (BinaryPrimitives.ReadUInt32LittleEndian(unmap[4..]) & UnmapFlagAll) != 0;
        var iova = BinaryPrimitives.ReadUInt64LittleEndian(unmap[8..]);
        var size = BinaryPrimitives.ReadUInt64LittleEndian(unmap[16..]);
        rc = context.CompatUnmap(iova, size, all, out var unmapped);
        if (rc == Errno.EINVAL && all)
            return rc;
        // VFIO reports the bytes unmapped in the size field, also when the unmap failed.
        BinaryPrimitives.WriteUInt64LittleEndian(unmap[16..], unmapped);
        return UserCopy.To(caller.Memory, arg + 16, unmap.Slice(16, 8)) != Errno.Ok ? Errno.EFAULT : rc;
    }
}
