using IommuFd.Core.Devices;
using IommuFd.Core.Objects;

namespace IommuFd.Core.VirtualIommu;

/// <summary>
/// A vIOMMU (IOMMUFD_OBJ_VIOMMU): the host side of an IOMMU presented to a guest, over a nesting
/// parent HWPT (which it uses). It names the guest's devices by virtual ID (<see cref="Vdevice"/>),
/// owns nested HWPTs, event queues per type and HW queues, all of which use it in turn.
/// </summary>
public sealed class Viommu : IommufdObject
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ulong, Vdevice> _vdevices = [];
    private readonly Dictionary<uint, Veventq> _veventqs = [];
    private readonly Dictionary<uint, HwQueue> _hwQueues = [];

    internal Viommu(IommufdContext context, HwptPaging parent, uint type, IViommuInstance instance)
    {
        Context = context;
        Parent = parent;
        Type = type;
        Instance = instance;
        context.Objects.AddUser(parent);
    }

    public override ObjectKind Kind => ObjectKind.Viommu;

    internal IommufdContext Context { get; }

    /// <summary>The nesting parent: stage 2 of every nested HWPT made on this vIOMMU.</summary>
    public HwptPaging Parent { get; }

    public uint Type { get; }

    public IViommuInstance Instance { get; }

    /// <summary>The device the guest knows as <paramref name="virtualId"/>, or null.</summary>
    public Device? FindDevice(ulong virtualId)
    {
        lock (_lock)
            return _vdevices.TryGetValue(virtualId, out var vdev) ? vdev.Device : null;
    }

    /// <summary>Takes <paramref name="virtualId"/> for <paramref name="vdevice"/>: false when another has it.</summary>
    internal bool TryAddVdevice(ulong virtualId, Vdevice vdevice)
    {
        lock (_lock)
            return _vdevices.TryAdd(virtualId, vdevice);
    }

    internal void RemoveVdevice(Vdevice vdevice)
    {
        lock (_lock)
            RemoveIfCurrent(_vdevices, vdevice.VirtualId, vdevice);
    }

    /// <summary>The event queue of <paramref name="type"/>, or null.</summary>
    public Veventq? FindVeventq(uint type)
    {
        lock (_lock)
            return _veventqs.GetValueOrDefault(type);
    }

    internal bool TryAddVeventq(Veventq queue)
    {
        lock (_lock)
            return _veventqs.TryAdd(queue.Type, queue);
    }

    internal void RemoveVeventq(Veventq queue)
    {
        lock (_lock)
            RemoveIfCurrent(_veventqs, queue.Type, queue);
    }

    /// <summary>The HW queue at <paramref name="index"/>, or null.</summary>
    internal HwQueue? FindHwQueue(uint index)
    {
        lock (_lock)
            return _hwQueues.GetValueOrDefault(index);
    }

    internal void SetHwQueue(uint index, HwQueue? queue)
    {
        lock (_lock)
        {
            if (queue is null)
                _hwQueues.Remove(index);
            else
                _hwQueues[index] = queue;
        }
    }

    /// <summary>Removes <paramref name="key"/> only while it still names <paramref name="value"/>: a destroy that lost a race to re-add must not drop the newcomer.</summary>
    private static void RemoveIfCurrent<TKey, TValue>(Dictionary<TKey, TValue> map, TKey key, TValue value)
        where TKey : notnull
        where TValue : class
    {
        if (map.TryGetValue(key, out var found) && ReferenceEquals(found, value))
            map.Remove(key);
    }

    protected internal override void OnDestroy() => Context.Objects.RemoveUser(Parent);
}
