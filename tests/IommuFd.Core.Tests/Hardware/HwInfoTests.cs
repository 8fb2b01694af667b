using System.Buffers.Binary;
using IommuFd.Core.Drivers.Hardware;
using IommuFd.Core.Machines;

namespace IommuFd.Core.Tests.Hardware;

/// <summary>GET_HW_INFO per model: the uAPI type and layout, and register fields that agree with the abilities advertised.</summary>
public sealed class HwInfoTests
{
    private static (uint Type, byte[] Data, ulong Caps, byte Pasid) Info(IommuDescription iommu, uint requested = 0)
    {
        using var rig = new HardwareRig(iommu);
        rig.Context.GetHwInfo(rig.DeviceId, requested, out var info).ThrowIfError("hw_info");
        return (info!.Type, info.Data, info.Capabilities, info.MaxPasidLog2);
    }

    private static ulong Field(ulong value, int low, int high) => (value >> low) & ((1UL << (high - low + 1)) - 1);

    [Fact]
    public void Vtd_reports_cap_and_ecap_registers_in_iommu_hw_info_vtd()
    {
        var (type, data, caps, pasid) = Info(IommuDescription.ForModel("dmar0", IommuModel.IntelVtd));
        Assert.Equal(1u, type);
        Assert.Equal(24, data.Length);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt64LittleEndian(data)); // flags, __reserved
        var cap = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(8));
        var ecap = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(16));
        Assert.Equal(0b00110UL, Field(cap, 8, 12)); // SAGAW: 3 and 4 levels for 48 bits
        Assert.Equal(47UL, Field(cap, 16, 21)); // MGAW + 1 = 48
        Assert.Equal(0b11UL, Field(cap, 34, 37)); // SLLPS: 2 MiB and 1 GiB
        Assert.Equal(1UL, Field(cap, 56, 56)); // FL1GP
        Assert.Equal(0UL, Field(cap, 60, 60)); // no 5-level first stage at 48 bits
        Assert.Equal(1UL, Field(ecap, 26, 26)); // NEST
        Assert.Equal(1UL, Field(ecap, 29, 29)); // PRS
        Assert.Equal(19UL, Field(ecap, 35, 39)); // PSS + 1 = 20-bit PASIDs
        Assert.Equal(1UL, Field(ecap, 40, 40)); // PASID
        Assert.Equal(1UL, Field(ecap, 43, 43)); // scalable mode
        Assert.Equal(1UL, Field(ecap, 45, 45)); // SLADS: dirty tracking
        Assert.Equal(3UL, Field(ecap, 46, 47)); // SLTS, FLTS
        Assert.Equal((1UL, (byte)20), (caps, pasid));
    }

    [Fact]
    public void Vtd_registers_follow_a_narrower_unit()
    {
        var iommu = IommuDescription.ForModel("dmar0", IommuModel.IntelVtd) with
        {
            AddressWidth = 57, PageSizes = (1UL << 12) | (1UL << 21), DirtyTracking = false, Nesting = false, PasidWidth = 0, Pri = false,
        };
        var (_, data, caps, pasid) = Info(iommu);
        var cap = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(8));
        var ecap = BinaryPrimitives.ReadUInt64LittleEndian(data.AsSpan(16));
        Assert.Equal(0b01110UL, Field(cap, 8, 12));
        Assert.Equal(56UL, Field(cap, 16, 21));
        Assert.Equal(0b01UL, Field(cap, 34, 37));
        Assert.Equal((0UL, 1UL), (Field(cap, 56, 56), Field(cap, 60, 60)));
        Assert.Equal(0UL, Field(ecap, 26, 26) | Field(ecap, 29, 29) | Field(ecap, 35, 40) | Field(ecap, 45, 45));
        Assert.Equal((0UL, (byte)0), (caps, pasid));
    }

    [Fact]
    public void Smmuv3_reports_id_registers_in_iommu_hw_info_arm_smmuv3()
    {
        var (type, data, caps, pasid) = Info(IommuDescription.ForModel("smmu0", IommuModel.ArmSmmuV3));
        Assert.Equal(2u, type);
        Assert.Equal(40, data.Length);
        Assert.Equal(0u, BinaryPrimitives.ReadUInt64LittleEndian(data)); // flags, __reserved
        var idr = Enumerable.Range(0, 6).Select(i => (ulong)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(8 + 4 * i))).ToArray();
        Assert.Equal(0b11UL, Field(idr[0], 0, 1)); // S2P, S1P (nesting)
        Assert.Equal(2UL, Field(idr[0], 2, 3)); // AArch64 tables
        Assert.Equal(2UL, Field(idr[0], 6, 7)); // HTTU: access and dirty
        Assert.Equal(1UL, Field(idr[0], 16, 16)); // PRI
        Assert.Equal(20UL, Field(idr[1], 6, 10)); // SSIDSIZE
        Assert.Equal(5UL, Field(idr[5], 0, 2)); // OAS 48 bits
        Assert.Equal(1UL, Field(idr[5], 4, 6)); // 4 KiB granule only
        Assert.Equal(0x43bu, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(32)));
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(36))); // SMMUv3.2
        Assert.Equal((1UL, (byte)20), (caps, pasid));
    }

    [Fact]
    public void Smmuv3_without_dirty_tracking_or_nesting_says_so()
    {
        var iommu = IommuDescription.ForModel("smmu0", IommuModel.ArmSmmuV3) with
        {
            PageSizes = (1UL << 16) | (1UL << 29), DirtyTracking = false, Nesting = false,
        };
        var (_, data, caps, _) = Info(iommu);
        var idr0 = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(8));
        var idr5 = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(28));
        Assert.Equal(0b10UL, Field(idr0, 0, 1));
        Assert.Equal(1UL, Field(idr0, 6, 7)); // access flag only
        Assert.Equal(0b100UL, Field(idr5, 4, 6)); // 64 KiB granule only
        Assert.Equal(0UL, caps);
    }

    [Fact]
    public void Amd_reports_no_driver_data_as_its_kernel_does()
    {
        var (type, data, caps, pasid) = Info(IommuDescription.ForModel("ivhd0", IommuModel.AmdVi));
        Assert.Equal(0u, type);
        Assert.Empty(data);
        Assert.Equal((1UL, (byte)16), (caps, pasid));
        // The kernel ignores a requested type when the driver has no hw_info.
        Assert.Equal(0u, Info(IommuDescription.ForModel("ivhd0", IommuModel.AmdVi), requested: 1).Type);
    }

    [Theory]
    [InlineData(IommuModel.IntelVtd, 2u)]
    [InlineData(IommuModel.ArmSmmuV3, 1u)]
    public void Another_models_type_is_refused(IommuModel model, uint requested)
    {
        using var rig = new HardwareRig(model);
        Assert.Equal(Errno.EOPNOTSUPP, rig.Context.GetHwInfo(rig.DeviceId, requested, out _));
        Assert.Equal(Errno.Ok, rig.Context.GetHwInfo(rig.DeviceId, model == IommuModel.IntelVtd ? IntelVtdDriver.HwInfoType : ArmSmmuV3Driver.HwInfoType, out _));
    }
}
