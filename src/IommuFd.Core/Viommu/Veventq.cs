using System.Buffers.Binary;
using IommuFd.Core.FaultInjection;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;

namespace IommuFd.Core.VirtualIommu;

/// <summary>
/// A vEVENTQ (IOMMUFD_OBJ_VEVENTQ): events of one type that a vIOMMU reports for its guest, read
/// from the queue's fd as whole records (an 8-byte header of flags and sequence number, then the
/// event). At most <see cref="Depth"/> events wait; one reported beyond that is dropped and the
/// queue ends instead with a single lost-events header carrying the sequence number it would
/// have had. Sequence numbers count every report and wrap at 2^31. Its lock is a leaf.
/// </summary>
public sealed class Veventq : IommufdObject
{
    public const int HeaderSize = 8;
    public const uint FlagLostEvents = 1;

    private readonly Lock _lock = new();
    private readonly LinkedList<Record> _records = new();
    private readonly LinkedListNode<Record> _lost = new(new Record([], Lost: true));
    private int _events;
    private uint _sequence;

    internal Veventq(Viommu viommu, uint type, uint depth)
    {
        Viommu = viommu;
        Type = type;
        Depth = depth;
        viommu.Context.Objects.AddUser(viommu);
    }

    public override ObjectKind Kind => ObjectKind.Veventq;

    public Viommu Viommu { get; }

    public uint Type { get; }

    public uint Depth { get; }

    /// <summary>Whether the queue took its place as its vIOMMU's queue of this type.</summary>
    internal bool Registered { get; set; }

    /// <summary>The descriptor naming the queue, once opened (closed again if the creation is aborted).</summary>
    internal (IObjectFiles Files, int Fd)? File { get; set; }

    /// <summary>Told true when something becomes readable and false when the queue empties (POLLIN). Runs under the queue's lock.</summary>
    public Action<bool>? ReadableChanged { get; set; }

    /// <summary>Events waiting (the lost-events header not counted).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
                return _events;
        }
    }

    /// <summary>Queues an event, or the lost-events header when <see cref="Depth"/> events already wait.</summary>
    public void Report(ReadOnlySpan<byte> data)
    {
        lock (_lock)
        {
            var wasEmpty = _records.Count == 0;
            // The lost-events header always ends the queue: take it out before adding at the tail.
            if (_lost.List is not null)
                _records.Remove(_lost);
            LinkedListNode<Record> node;
            if (_events >= Depth)
                node = _lost;
            else
            {
                node = new LinkedListNode<Record>(new Record(data.ToArray(), Lost: false));
                _events++;
            }
            node.Value.Sequence = _sequence;
            _sequence = (_sequence + 1) & int.MaxValue;
            _records.AddLast(node);
            if (wasEmpty)
                ReadableChanged?.Invoke(true);
        }
    }

    /// <summary>
    /// Copies whole records into [buffer, +length) in order and removes them. A record that does
    /// not fit entirely stays queued, so a buffer too small for the first record reads 0 bytes.
    /// An unwritable buffer is EFAULT when nothing was copied.
    /// </summary>
    public Errno Read(IUserMemory memory, ulong buffer, ulong length, out ulong done)
    {
        done = 0;
        Span<byte> header = stackalloc byte[HeaderSize];
        lock (_lock)
        {
            var rc = Errno.Ok;
            while (_records.First is { } node)
            {
                var record = node.Value;
                var size = (ulong)(HeaderSize + record.Data.Length);
                if (size > length - done)
                    break;
                BinaryPrimitives.WriteUInt32LittleEndian(header, record.Lost ? FlagLostEvents : 0);
                BinaryPrimitives.WriteUInt32LittleEndian(header[4..], record.Sequence);
                rc = UserCopy.To(memory, buffer + done, header);
                if (rc == Errno.Ok && record.Data.Length > 0)
                    rc = UserCopy.To(memory, buffer + done + HeaderSize, record.Data);
                if (rc != Errno.Ok)
                    break;
                _records.RemoveFirst();
                if (!record.Lost)
                    _events--;
                done += size;
            }
            if (done > 0 && _records.Count == 0)
                ReadableChanged?.Invoke(false);
            return done == 0 ? rc : Errno.Ok;
        }
    }

    protected internal override void OnAbort()
    {
        if (File is { } open)
            open.Files.Close(open.Fd);
        OnDestroy();
    }

    protected internal override void OnDestroy()
    {
        if (Registered)
            Viommu.RemoveVeventq(this);
        lock (_lock)
        {
            _records.Clear();
            _events = 0;
        }
        Viommu.Context.Objects.RemoveUser(Viommu);
    }

    private sealed record Record(byte[] Data, bool Lost)
    {
        public uint Sequence { get; set; }
    }
}
