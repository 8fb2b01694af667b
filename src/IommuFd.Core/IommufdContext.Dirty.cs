using System.Buffers;
using System.Numerics;
using IommuFd.Core.Dirty;
using IommuFd.Core.Domains;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Objects;

namespace IommuFd.Core;

/// <summary>
/// Dirty tracking on paging HWPTs (live migration): turn it on, read and clear the dirty pages as
/// a bitmap, and the self-test's stand-in for device writes. The dirty state is only ever in the
/// domain's page-table entries. Facts (validation order, errnos) from the kernel's hw_pagetable.c,
/// io_pagetable.c and selftest.c; the code is ours.
/// </summary>
public sealed partial class IommufdContext
{
    /// <summary>
    /// IOMMU_HWPT_SET_DIRTY_TRACKING. ENOENT unless <paramref name="id"/> is a paging HWPT;
    /// EOPNOTSUPP when its domain was not allocated for dirty tracking. Enabling clears every dirty bit first.
    /// </summary>
    public Errno SetDirtyTracking(HwptId id, bool enable)
    {
        using var hold = Objects.Hold<HwptPaging>(id);
        if (!hold.Held)
            return hold.Status;
        var hwpt = hold.Value;
        return hwpt.Domain is IDirtyTrackingDomain domain ? domain.SetDirtyTracking(enable) : Errno.EOPNOTSUPP;
    }

    /// <summary>
    /// IOMMU_HWPT_GET_DIRTY_BITMAP: ORs the dirty pages of the range into the user bitmap and, unless
    /// <see cref="DirtyBitmapRequest.KeepDirty"/>, clears their dirty bits. In the kernel's order:
    /// ENOENT (not a paging HWPT); EOVERFLOW (the range wraps); EINVAL (range not aligned to the
    /// IOAS's IOVA alignment, page size zero or not a power of two, range not aligned to it);
    /// EOPNOTSUPP (domain cannot track); EINVAL (a part of the range is not mapped); EFAULT (bitmap).
    /// A dirty leaf sets every bit it covers inside the range. The bitmap is in <paramref name="caller"/>'s memory (default: the context's).
    /// </summary>
    public Errno GetDirtyBitmap(HwptId id, in DirtyBitmapRequest request, IommuHost? caller = null)
    {
        using var hold = Objects.Hold<HwptPaging>(id);
        if (!hold.Held)
            return hold.Status;
        var hwpt = hold.Value;
        var table = hwpt.Ioas.PageTable;
        var rc = CheckDirtyRange(request, table.IovaAlignment);
        if (rc != Errno.Ok)
            return rc;
        if (hwpt.Domain is not IDirtyTrackingDomain { CanTrackDirty: true } domain)
            return Errno.EOPNOTSUPP;
        if (!table.CoversContiguously(request.Iova, request.Iova + (request.Length - 1)))
            return Errno.EINVAL;
        return DirtyBitmapWriter.Run((caller ?? Host).Memory, domain, request);
    }

    /// <summary>The kernel's iommufd_check_iova_range, plus a power-of-two page size (the bitmap's unit).</summary>
    private static Errno CheckDirtyRange(in DirtyBitmapRequest request, ulong iovaAlignment)
    {
        var last = request.Iova + (request.Length - 1);
        if (last < request.Iova)
            return Errno.EOVERFLOW;
        var alignMask = iovaAlignment - 1;
        if ((request.Iova & alignMask) != 0 || ((last + 1) & alignMask) != 0)
            return Errno.EINVAL;
        if (!BitOperations.IsPow2(request.PageSize))
            return Errno.EINVAL;
        var pageMask = request.PageSize - 1;
        if ((request.Iova & pageMask) != 0 || ((last + 1) & pageMask) != 0)
            return Errno.EINVAL;
        return Errno.Ok;
    }

    /// <summary>
    /// The self-test's DIRTY op: for each set bit n of the user bitmap at <paramref name="bitmapAddress"/>,
    /// a device write at <paramref name="iova"/> + n × <paramref name="pageSize"/> (marking its leaf dirty).
    /// <paramref name="marked"/> counts the set bits. EINVAL for a zero or misaligned size or no bitmap,
    /// ENOENT unless a paging HWPT, EINVAL unless a mock domain with tracking on, EFAULT for the bitmap.
    /// </summary>
    public Errno MockMarkDirty(HwptId id, ulong iova, ulong length, ulong pageSize, ulong bitmapAddress, out ulong marked, IommuHost? caller = null)
    {
        marked = 0;
        if (pageSize == 0 || length == 0 || iova % pageSize != 0 || length % pageSize != 0 || bitmapAddress == 0)
            return Errno.EINVAL;
        using var hold = Objects.Hold<HwptPaging>(id);
        if (!hold.Held)
            return hold.Status;
        var hwpt = hold.Value;
        var window = ArrayPool<byte>.Shared.Rent(DirtyBitmapWriter.WindowBytes);
        try
        {
            if (hwpt.Domain is not MockDomain { DirtyTracking: true } domain)
                return Errno.EINVAL;
            var pages = length / pageSize;
            var bytes = (pages + 7) / 8;
            for (var offset = 0UL; offset < bytes; offset += DirtyBitmapWriter.WindowBytes)
            {
                var chunk = window.AsSpan(0, (int)Math.Min(DirtyBitmapWriter.WindowBytes, bytes - offset));
                if (UserCopy.From((caller ?? Host).Memory, bitmapAddress + offset, chunk) != Errno.Ok)
                    return Errno.EFAULT;
                for (var i = 0; i < chunk.Length; i++)
                {
                    for (var bits = (uint)chunk[i]; bits != 0; bits &= bits - 1)
                    {
                        var page = (offset + (ulong)i) * 8 + (ulong)BitOperations.TrailingZeroCount(bits);
                        if (page >= pages)
                            break;
                        domain.RecordWrite(iova + page * pageSize);
                        marked++;
                    }
                }
            }
            return Errno.Ok;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(window);
        }
    }
}
