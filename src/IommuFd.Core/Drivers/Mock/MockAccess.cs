using IommuFd.Core.AddressSpace;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// The self-test's emulated device behind an access fd: it keeps the page ranges it pinned as
/// numbered items (from 0), and when told of an unmap drops every item that overlaps it.
/// </summary>
public sealed class MockAccess : IAccessUser
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, AccessPin> _items = [];
    private uint _nextItem;

    /// <summary>The access, set once created.</summary>
    public Access? Access { get; set; }

    public int ItemCount
    {
        get
        {
            lock (_lock)
                return _items.Count;
        }
    }

    public uint AddItem(AccessPin pin)
    {
        lock (_lock)
        {
            var id = _nextItem++;
            _items[id] = pin;
            return id;
        }
    }

    /// <summary>Unpins and forgets item <paramref name="id"/>: ENOENT when there is none (or an unmap took it).</summary>
    public Errno DestroyItem(uint id)
    {
        AccessPin? pin;
        lock (_lock)
        {
            if (!_items.Remove(id, out pin))
                return Errno.ENOENT;
        }
        Access?.Unpin(pin);
        return Errno.Ok;
    }

    public void Unmap(Access access, ulong iova, ulong length)
    {
        var last = length == 0 ? iova : iova + (length - 1 < ulong.MaxValue - iova ? length - 1 : ulong.MaxValue - iova);
        List<AccessPin> dropped = [];
        lock (_lock)
        {
            foreach (var (id, pin) in _items.ToList())
            {
                var pinLast = pin.Iova + (pin.Length - 1);
                if (pin.Iova <= last && pinLast >= iova)
                {
                    _items.Remove(id);
                    dropped.Add(pin);
                }
            }
        }
        foreach (var pin in dropped)
            access.Unpin(pin);
    }
}
