using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using IommuFd.Abi.Uapi;
using IommuFd.Core;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Faults;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Abi.Files;

/// <summary>
/// The fd of a fault queue: read() hands out whole groups of iommu_hwpt_pgfault records, write()
/// takes iommu_hwpt_page_response answers. Both want whole records (ESPIPE otherwise) and report
/// the bytes done, or the error when nothing was done.
/// </summary>
internal sealed class FaultQueueFile(FaultQueue queue) : IObjectFileOperations
{
    private static readonly int RecordSize = Unsafe.SizeOf<IommuHwptPgfault>();
    private static readonly int ResponseSize = Unsafe.SizeOf<IommuHwptPageResponse>();

    public FaultQueue Queue { get; } = queue;

    public Errno Read(IUserMemory memory, ulong buffer, ulong length, out ulong done)
    {
        done = 0;
        if (length % (ulong)RecordSize != 0)
            return Errno.ESPIPE;
        var room = (int)Math.Min(length / (ulong)RecordSize, int.MaxValue);
        var written = 0UL;
        var failed = false;
        Queue.Deliver(room, group =>
        {
            Span<IommuHwptPgfault> record = stackalloc IommuHwptPgfault[1];
            var at = written;
            foreach (var request in group.Requests)
            {
                record[0] = new IommuHwptPgfault
                {
                    Flags = (uint)request.Flags,
                    DevId = group.Device.Value,
                    Pasid = request.Pasid,
                    GroupId = request.GroupId,
                    Perm = (uint)request.Access,
                    Addr = request.Address,
                    Cookie = group.Cookie,
                };
                if (UserCopy.To(memory, buffer + at, MemoryMarshal.AsBytes(record)) != Errno.Ok)
                {
                    failed = true;
                    return false;
                }
                at += (ulong)RecordSize;
            }
            written = at;
            return true;
        });
        done = written;
        return done == 0 && failed ? Errno.EFAULT : Errno.Ok;
    }

    public Errno Write(IUserMemory memory, ulong buffer, ulong length, out ulong done)
    {
        done = 0;
        if (length % (ulong)ResponseSize != 0)
            return Errno.ESPIPE;
        Span<IommuHwptPageResponse> response = stackalloc IommuHwptPageResponse[1];
        var rc = Errno.Ok;
        while (done < length)
        {
            rc = UserCopy.From(memory, buffer + done, MemoryMarshal.AsBytes(response));
            if (rc != Errno.Ok)
                break;
            rc = Queue.Respond(response[0].Cookie, (PageResponseCode)response[0].Code);
            if (rc != Errno.Ok)
                break;
            done += (ulong)ResponseSize;
        }
        return done == 0 ? rc : Errno.Ok;
    }
}
