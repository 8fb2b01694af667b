using IommuFd.Core.Devices;
using IommuFd.Core.Drivers;
using IommuFd.Core.Drivers.Hardware;
using IommuFd.Core.Machines;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Hardware;

/// <summary>A context with program memory and device dma0 of a machine with one IOMMU of the given description, bound.</summary>
internal sealed class HardwareRig : IDisposable
{
    public const ulong UserBase = 0x40_0000;
    public const ulong UserSize = 0x40_0000;

    public HardwareRig(IommuDescription iommu)
    {
        Memory.Map(UserBase, UserSize);
        Context = new IommufdContext(new IommuHost(Memory, ulong.MaxValue));
        var preset = iommu.Model switch
        {
            IommuModel.IntelVtd => MachinePresets.IntelVtd,
            IommuModel.AmdVi => MachinePresets.AmdVi,
            _ => MachinePresets.ArmSmmuV3,
        };
        Machine = new Machine(preset with
        {
            Iommus = [iommu with { Id = preset.Iommus[0].Id }],
        });
        var dma0 = Machine.Device("dma0");
        Device = dma0.CreateDevice();
        Context.BindDevice(Device, out var id).ThrowIfError("bind");
        DeviceId = id;
        Context.CreateIoas(out var ioas).ThrowIfError("ioas");
        Ioas = ioas;
    }

    public HardwareRig(IommuModel model) : this(IommuDescription.ForModel("iommu0", model))
    {
    }

    public SimulatedUserMemory Memory { get; } = new();

    public IommufdContext Context { get; }

    public Machine Machine { get; }

    public Device Device { get; }

    public DeviceId DeviceId { get; }

    public IoasId Ioas { get; }

    public HardwareIommuDriver Driver => (HardwareIommuDriver)Device.Driver;

    public Errno Alloc(HwptAllocFlags flags, out HwptId hwpt) => Context.AllocHwpt(DeviceId, Ioas, flags, null, out hwpt);

    public IHardwarePagingDomain DomainOf(HwptId id)
    {
        using var hold = Context.Objects.Hold<HwptPaging>(id);
        hold.Status.ThrowIfError("hold");
        return (IHardwarePagingDomain)hold.Value.Domain;
    }

    public void Map(ulong iova, ulong userOffset, ulong length, IoProt prot = IoProt.Read | IoProt.Write) =>
        Context.Map(Ioas, UserBase + userOffset, length, prot, IovaPlacement.Fixed, ref iova).ThrowIfError("map");

    public void Dispose() => Context.Dispose();
}
