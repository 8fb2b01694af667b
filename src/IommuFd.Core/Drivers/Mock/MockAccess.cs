using IommuFd.Core.AddressSpace;
using IommuFd.Core.Objects;

namespace IommuFd.Core.Drivers.Mock;

/// <summary>
/// The self-test's emulated device behind an access fd: it keeps the page ranges it pinned as
/// numbered items (from 0), and when told of an unmap drops every item that overlaps it. Items
/// are also kept in IOVA order, so an unmap looks only at those that can reach its range, not
/// at every pin outstanding.
/// </summary>
public sealed class MockAccess : IAccessUser
{
    private readonly Lock _lock = new();
    private readonly Dictionary<uint, AccessPin> _items = [];
    private readonly SortedSet<(ulong Iova, uint Id)> _byIova = [];
    private ulong _longest;
    private uint _nextItem;

    /// <summary>How many items the last unmap looked at (tests: it must not grow with unrelated pins).</summary>
    internal int LastUnmapExamined { get; private set; }

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
            _byIova.Add((pin.Iova, id));
            _longest = Math.Max(_longest, pin.Length);
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
            _byIova.Remove((pin.Iova, id));
        }
        Access?.Unpin(pin);
        return Errno.Ok;
    }

    public void Unmap(Access access, ulong iova, ulong length)
    {
        var last = length == 0 ? iova : iova + (length - 1 < ulong.MaxValue - iova ? length - 1 : ulong.MaxValue - iova);
        List<AccessPin>? dropped = null;
        lock (_lock)
        {
            LastUnmapExamined = 0;
            if (_items.Count == 0)
                return;
            // An item reaching iova starts at most (longest - 1) bytes before it.
            var reach = _longest == 0 ? 0 : _longest - 1;
            var from = iova > reach ? iova - reach : 0;
            List<(ulong Iova, uint Id)>? hits = null;
            foreach (var key in _byIova.GetViewBetween((from, 0), (last, uint.MaxValue)))
            {
                LastUnmapExamined++;
                var pin = _items[key.Id];
                if (pin.Iova + (pin.Length - 1) >= iova)
                    (hits ??= []).Add(key);
            }
            if (hits is null)
                return;
            dropped = new List<AccessPin>(hits.Count);
            foreach (var key in hits)
            {
                _byIova.Remove(key);
                _items.Remove(key.Id, out var pin);
                dropped.Add(pin!);
            }
        }
        foreach (var pin in dropped)
            access.Unpin(pin);
    }
}
