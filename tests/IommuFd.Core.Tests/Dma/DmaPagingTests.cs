using IommuFd.Core.Dma;
using IommuFd.Core.Machines;
using IommuFd.Core.Memory;
using IommuFd.Core.Objects;
using IommuFd.Core.Tests.Infrastructure;

namespace IommuFd.Core.Tests.Dma;

/// <summary>
/// A machine device doing DMA through a paging domain: the bytes it reaches are the program's,
/// faults say what, where and after how many bytes, and the IOTLB is flushed by UNMAP.
/// </summary>
public sealed class DmaPagingTests : IDisposable
{
    private const ulong UserBase = 0x40_0000;
    private const ulong UserSize = 0x40_0000;
    private const ulong Iova = 0x100_0000;

    private readonly SimulatedUserMemory _memory = new();
    private readonly IommufdContext _context;
    private readonly Machine _machine;
    private readonly RecordingDeviceModel _model = new();
    private readonly DeviceId _device;
    private readonly DmaPort _port;
    private readonly IoasId _ioas;

    public DmaPagingTests()
    {
        _memory.Map(UserBase, UserSize);
        _context = new IommufdContext(new IommuHost(_memory, ulong.MaxValue));
        var description = MachinePresets.IntelVtd with
        {
            Iommus = [MachinePresets.IntelVtd.Iommus[0] with { IotlbEntries = 4 }],
        };
        _machine = new Machine(description);
        var dma0 = _machine.Device("dma0");
        var device = dma0.CreateDevice();
        _context.BindDevice(device, out _device).ThrowIfError("bind");
        _context.CreateIoas(out _ioas).ThrowIfError("ioas");
        _port = dma0.Iommu.OpenDma(_context, device, _model);
    }

    public void Dispose() => _context.Dispose();

    private void Attach() => _context.AttachDevice(_device, _ioas, out _).ThrowIfError("attach");

    private void Map(ulong iova, ulong userOffset, ulong length, IoProt prot = IoProt.Read | IoProt.Write) =>
        _context.Map(_ioas, UserBase + userOffset, length, prot, IovaPlacement.Fixed, ref iova).ThrowIfError("map");

    private static byte[] Pattern(int length, byte seed) => [.. Enumerable.Range(0, length).Select(i => (byte)(i * 7 + seed))];

    [Fact]
    public void Dma_reaches_the_same_bytes_as_the_program_in_both_directions()
    {
        Attach();
        Map(Iova, 0x1000, 0x4000);
        var written = Pattern(0x2345, 3);
        var result = _port.Write(Iova + 0x123, written);
        Assert.True(result.Completed);
        Assert.Equal((ulong)written.Length, result.BytesTransferred);
        var inMemory = new byte[written.Length];
        _memory.Read(UserBase + 0x1123, inMemory).ThrowIfError("read");
        Assert.Equal(written, inMemory);

        var fromProgram = Pattern(0x3000, 9);
        _memory.Write(UserBase + 0x1000, fromProgram).ThrowIfError("write");
        var read = new byte[0x3000];
        Assert.True(_port.Read(Iova, read).Completed);
        Assert.Equal(fromProgram, read);
        Assert.Empty(_model.Errors);
    }

    [Fact]
    public void A_device_that_is_not_attached_is_blocked()
    {
        Map(Iova, 0, 0x1000);
        var result = _port.Read(Iova, new byte[16]);
        var fault = Assert.IsType<DmaFault>(result.Fault);
        Assert.Equal((DmaFaultKind.Translation, DmaFaultReason.Blocked, Iova, 0UL), (fault.Kind, fault.Reason, fault.Iova, fault.BytesTransferred));
        Assert.Equal(DmaFaultRoute.DeviceModel, result.Route);
        Assert.Equal([fault], _model.Errors);
    }

    [Fact]
    public void A_translation_fault_reports_the_first_unmapped_byte_and_what_was_written_before_it()
    {
        Attach();
        Map(Iova, 0, 0x2000);
        var data = Pattern(0x3000, 1);
        var result = _port.Write(Iova + 0x800, data);
        var fault = Assert.IsType<DmaFault>(result.Fault);
        Assert.Equal(DmaFaultKind.Translation, fault.Kind);
        Assert.Equal(DmaFaultReason.NotMapped, fault.Reason);
        Assert.Equal(2, fault.Stage);
        Assert.Equal(Iova + 0x2000, fault.Iova);
        Assert.Equal(0x1800UL, fault.BytesTransferred);
        Assert.Equal(0x1800UL, result.BytesTransferred);
        Assert.Equal(DmaDirection.Write, fault.Direction);
        var inMemory = new byte[0x1800];
        _memory.Read(UserBase + 0x800, inMemory).ThrowIfError("read");
        Assert.Equal(data[..0x1800], inMemory);
    }

    [Fact]
    public void A_write_into_a_read_only_mapping_is_a_permission_fault_and_reads_still_work()
    {
        Attach();
        Map(Iova, 0, 0x1000);
        Map(Iova + 0x1000, 0x1000, 0x1000, IoProt.Read);
        var result = _port.Write(Iova + 0xf00, new byte[0x200]);
        var fault = Assert.IsType<DmaFault>(result.Fault);
        Assert.Equal((DmaFaultKind.Permission, DmaFaultReason.NoPermission, 2), (fault.Kind, fault.Reason, fault.Stage));
        Assert.Equal((Iova + 0x1000, 0x100UL), (fault.Iova, fault.BytesTransferred));
        Assert.True(_port.Read(Iova + 0xf00, new byte[0x200]).Completed);
    }

    [Fact]
    public void The_iotlb_caches_walks_and_unmap_flushes_it_so_dma_never_sees_a_stale_page()
    {
        Attach();
        Map(Iova, 0, 0x1000);
        var buffer = new byte[8];
        Assert.True(_port.Read(Iova, buffer).Completed);
        Assert.Equal((0L, 1L), (_port.Iotlb.Hits, _port.Iotlb.Misses));
        Assert.True(_port.Read(Iova + 8, buffer).Completed);
        Assert.Equal((1L, 1L), (_port.Iotlb.Hits, _port.Iotlb.Misses));
        Assert.Equal(1, _port.Iotlb.Count);

        _context.Unmap(_ioas, Iova, 0x1000, out _).ThrowIfError("unmap");
        Assert.Equal(0, _port.Iotlb.Count);
        var fault = _port.Read(Iova, buffer).Fault;
        Assert.Equal(DmaFaultReason.NotMapped, fault?.Reason);

        // Mapped again elsewhere in user memory: DMA follows the new mapping.
        _memory.Write(UserBase + 0x5000, [42]).ThrowIfError("write");
        Map(Iova, 0x5000, 0x1000);
        Assert.True(_port.Read(Iova, buffer).Completed);
        Assert.Equal(42, buffer[0]);
    }

    [Fact]
    public void A_small_iotlb_evicts_the_least_recently_used_page()
    {
        Attach();
        _context.SetHugePages(_ioas, false).ThrowIfError("huge pages off");
        Map(Iova, 0, 0x8000);
        var one = new byte[1];
        // Huge pages off: 4 KiB leaves, so six pages for a four-entry IOTLB.
        for (var i = 0UL; i < 6; i++)
            Assert.True(_port.Read(Iova + i * 0x1000, one).Completed);
        Assert.Equal(4, _port.Iotlb.Count);
        Assert.Equal(2, _port.Iotlb.Evictions);
        var misses = _port.Iotlb.Misses;
        Assert.True(_port.Read(Iova + 5 * 0x1000, one).Completed);
        Assert.Equal(misses, _port.Iotlb.Misses);
        Assert.True(_port.Read(Iova, one).Completed);
        Assert.Equal(misses + 1, _port.Iotlb.Misses);
    }

    [Fact]
    public void A_large_leaf_is_one_iotlb_entry()
    {
        Attach();
        Map(0x200_0000, 0x20_0000, 0x20_0000);
        Assert.True(_port.Read(0x200_0000, new byte[0x1_0000]).Completed);
        Assert.True(_port.Write(0x21f_0000, new byte[0x1_0000]).Completed);
        Assert.Equal((1L, 1L), (_port.Iotlb.Misses, _port.Iotlb.Hits));
        Assert.Equal(1, _port.Iotlb.Count);
    }

    [Fact]
    public void A_pasid_request_on_a_paging_attachment_has_no_context()
    {
        Attach();
        Map(Iova, 0, 0x1000);
        var fault = _port.Read(Iova, new byte[4], pasid: 3).Fault;
        Assert.Equal((DmaFaultKind.Translation, DmaFaultReason.PasidNotAttached, 3u), (fault?.Kind, fault?.Reason, fault?.Pasid));
    }

    [Fact]
    public void A_domain_without_a_dma_walk_is_untranslatable()
    {
        var driver = new TestDriver(new IovaRange(0, ulong.MaxValue >> 16));
        var device = driver.CreateDevice();
        _context.BindDevice(device, out var id).ThrowIfError("bind");
        _context.AttachDevice(id, _ioas, out _).ThrowIfError("attach");
        var port = new DmaPort(_context, device, new Iotlb(4), _model, pageRequests: false);
        Assert.Equal(DmaFaultReason.Untranslatable, port.Read(0, new byte[1]).Fault?.Reason);
    }

    [Fact]
    public void Pages_mapped_out_of_order_are_copied_to_and_from_their_own_memory()
    {
        Attach();
        Map(Iova, 0x5000, 0x1000);
        Map(Iova + 0x1000, 0x2000, 0x1000);
        Map(Iova + 0x2000, 0x3000, 0x1000);
        var data = Pattern(0x3000, 5);
        Assert.True(_port.Write(Iova, data).Completed);
        var page = new byte[0x1000];
        foreach (var (userOffset, index) in new[] { (0x5000UL, 0), (0x2000UL, 1), (0x3000UL, 2) })
        {
            _memory.Read(UserBase + userOffset, page).ThrowIfError("read");
            Assert.Equal(data[(index * 0x1000)..((index + 1) * 0x1000)], page);
        }
        var back = new byte[0x3000];
        Assert.True(_port.Read(Iova, back).Completed);
        Assert.Equal(data, back);
    }

    [Fact]
    public void Memory_gone_from_under_a_mapping_is_a_memory_error_after_the_bytes_before_it()
    {
        var memory = new SimulatedUserMemory();
        memory.Map(0x1_0000, 0x1000);
        memory.Map(0x2_0000, 0x1000);
        using var context = new IommufdContext(new IommuHost(memory, ulong.MaxValue));
        var dma1 = _machine.Device("dma1");
        var device = dma1.CreateDevice();
        context.BindDevice(device, out var id).ThrowIfError("bind");
        context.CreateIoas(out var ioas).ThrowIfError("ioas");
        context.AttachDevice(id, ioas, out _).ThrowIfError("attach");
        var iova = Iova;
        context.Map(ioas, 0x1_0000, 0x1000, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
        iova = Iova + 0x1000;
        context.Map(ioas, 0x2_0000, 0x1000, IoProt.Read | IoProt.Write, IovaPlacement.Fixed, ref iova).ThrowIfError("map");
        memory.Unmap(0x2_0000);
        var port = dma1.Iommu.OpenDma(context, device, _model);
        var result = port.Write(Iova + 0x800, new byte[0x1000]);
        Assert.Equal((DmaFaultReason.MemoryError, Iova + 0x1000, 0x800UL), (result.Fault?.Reason, result.Fault?.Iova, result.BytesTransferred));
    }
}
