using IommuFd.Core.Dirty;
using IommuFd.Core.Drivers;
using IommuFd.Core.Machines;
using IommuFd.Core.Tests.Dma;

namespace IommuFd.Core.Tests.Hardware;

/// <summary>
/// A map through the IOAS lands in the model's table as the entry its architecture defines (values as in
/// PageTables/HardwareEncodingTests, computed by hand from the specifications), and device writes through a
/// real-format domain set that format's dirty state, which GET_DIRTY_BITMAP then reads and clears.
/// </summary>
public sealed class RealFormatDmaTests
{
    private const ulong Iova = 0x100_0000;
    private const ulong Bitmap = HardwareRig.UserBase + HardwareRig.UserSize - 0x1000;

    // Output = UserBase + 0x1000 = 0x40_1000, read/write/cacheable (the IOAS maps with IOMMU_CACHE), 4 KiB.
    [Theory]
    [InlineData(IommuModel.IntelVtd, HwptAllocFlags.None, 0x0000_0000_0040_1007UL)] // x86 first stage: P|R/W|U/S
    [InlineData(IommuModel.IntelVtd, HwptAllocFlags.NestParent, 0x0000_0000_0040_1803UL)] // VT-d second stage: R|W|SNP
    [InlineData(IommuModel.AmdVi, HwptAllocFlags.None, 0x7000_0000_0040_1001UL)] // AMD v1: PR|FC|IR|IW
    [InlineData(IommuModel.ArmSmmuV3, HwptAllocFlags.NestParent, 0x0000_0000_0040_17FFUL)] // stage 2: AF|SH inner|S2AP RW|MemAttr WB|page
    public void A_map_through_the_ioas_writes_the_architected_entry(IommuModel model, HwptAllocFlags flags, ulong leaf)
    {
        using var rig = new HardwareRig(model);
        rig.Alloc(flags, out var hwpt).ThrowIfError("alloc");
        rig.Map(Iova, 0x1000, 0x1000);
        var domain = rig.DomainOf(hwpt);
        var walk = domain.WalkEntries(Iova);
        Assert.Equal(leaf, walk[^1]);
        Assert.Equal(HardwareRig.UserBase + 0x1000 + 0x24, domain.Translate(Iova + 0x24, out var prot));
        Assert.Equal(IoProt.Read | IoProt.Write, prot & (IoProt.Read | IoProt.Write));
        rig.Context.Unmap(rig.Ioas, Iova, 0x1000, out _).ThrowIfError("unmap");
        Assert.Null(domain.Translate(Iova, out _));
    }

    [Theory]
    [InlineData(IommuModel.IntelVtd, 1UL << 9, 1UL << 9)] // VT-d second stage D bit 9 set
    [InlineData(IommuModel.AmdVi, 1UL << 6, 1UL << 6)] // AMD v1 D bit 6 set
    [InlineData(IommuModel.ArmSmmuV3, 1UL << 7, 0UL)] // ARM DBM: AP[2] (read-only) cleared
    public void Device_writes_set_the_formats_dirty_state_and_the_bitmap_reads_it(IommuModel model, ulong mask, ulong dirtyValue)
    {
        using var rig = new HardwareRig(model);
        rig.Alloc(HwptAllocFlags.DirtyTracking, out var hwpt).ThrowIfError("alloc");
        rig.Context.AttachDevice(rig.DeviceId, hwpt, out _).ThrowIfError("attach");
        rig.Map(Iova, 0, 0x8000);
        var domain = rig.DomainOf(hwpt);
        var dma0 = rig.Machine.Device("dma0");
        var port = dma0.Iommu.OpenDma(rig.Context, rig.Device, new RecordingDeviceModel());
        rig.Context.SetDirtyTracking(hwpt, true).ThrowIfError("track");

        Assert.True(port.Read(Iova + 0x2000, new byte[16]).Completed);
        Assert.True(port.Write(Iova + 0x5010, new byte[] { 1, 2, 3 }).Completed);
        Assert.NotEqual(dirtyValue, domain.WalkEntries(Iova + 0x2000)[^1] & mask);
        Assert.Equal(dirtyValue, domain.WalkEntries(Iova + 0x5000)[^1] & mask);

        var request = new DirtyBitmapRequest(Iova, 0x8000, 0x1000, Bitmap);
        rig.Context.GetDirtyBitmap(hwpt, request).ThrowIfError("bitmap");
        var bits = new byte[1];
        rig.Memory.Read(Bitmap, bits).ThrowIfError("read");
        Assert.Equal(1 << 5, bits[0]);
        // Read and cleared: the entry is clean again, and a second read finds nothing.
        Assert.NotEqual(dirtyValue, domain.WalkEntries(Iova + 0x5000)[^1] & mask);
        rig.Memory.Write(Bitmap, new byte[1]).ThrowIfError("zero");
        rig.Context.GetDirtyBitmap(hwpt, request).ThrowIfError("bitmap");
        rig.Memory.Read(Bitmap, bits).ThrowIfError("read");
        Assert.Equal(0, bits[0]);
    }
}
