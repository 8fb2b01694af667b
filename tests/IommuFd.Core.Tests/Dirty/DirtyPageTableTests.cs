using IommuFd.Core;
using IommuFd.Core.Drivers.Mock;
using IommuFd.Core.Drivers.PageTables;

namespace IommuFd.Core.Tests.Dirty;

/// <summary>The D bit in the PTEs: what a device write sets, what a scan reports and clears.</summary>
public sealed class DirtyPageTableTests
{
    private const ulong KiB = 1024, MiB = 1024 * KiB;
    private const ulong User = 0x7f00_0000_0000;
    private const IoProt RW = IoProt.Read | IoProt.Write;

    private struct Collect : IDirtyLeafSink
    {
        public List<(ulong Iova, ulong Size)> Leaves;

        public readonly void Dirty(ulong iova, ulong size) => Leaves.Add((iova, size));
    }

    private static List<(ulong, ulong)> Read(MockDomain domain, ulong first, ulong last, bool clear = true)
    {
        var sink = new Collect { Leaves = [] };
        domain.ReadDirty(first, last, clear, ref sink);
        return sink.Leaves;
    }

    private static MockDomain Tracking(MockPageTableType type)
    {
        var domain = new MockDomain(type, canTrackDirty: true);
        Assert.Equal(Errno.Ok, domain.SetDirtyTracking(true));
        return domain;
    }

    [Fact]
    public void The_dirty_bit_is_bit_6_of_an_AMD_v1_entry_and_leaves_the_translation_alone()
    {
        var codec = new AmdV1PteCodec(12);
        var pte = codec.EncodeLeaf(0x1234_5000, 12, 0, RW);
        Assert.False(codec.IsDirty(pte));
        var dirty = codec.MarkAccessed(pte, write: true) & ~AmdV1PteCodec.Accessed;
        Assert.Equal(pte | (1UL << 6), dirty);
        Assert.True(codec.IsDirty(dirty));
        Assert.Equal(codec.DecodeLeaf(pte, 0), codec.DecodeLeaf(dirty, 0));
        Assert.Equal(PteKind.Leaf, codec.Kind(dirty, 0));
        Assert.Equal(pte, codec.ClearDirty(dirty));
    }

    [Fact]
    public void A_write_marks_its_whole_leaf_and_a_scan_reads_and_clears_it_once()
    {
        var d = Tracking(MockPageTableType.Default);
        Assert.Equal(Errno.Ok, d.Map(16 * MiB, User, 64 * KiB, RW, largestPage: 2 * KiB));
        Assert.True(d.RecordWrite(16 * MiB + 6 * KiB + 5));
        Assert.True(d.RecordWrite(16 * MiB + 60 * KiB));
        Assert.False(d.RecordWrite(32 * MiB)); // nothing mapped there
        Assert.Null(d.PageTable.Validate());

        Assert.Equal([(16 * MiB + 6 * KiB, 2 * KiB), (16 * MiB + 60 * KiB, 2 * KiB)], Read(d, 16 * MiB, 16 * MiB + 64 * KiB - 1, clear: false));
        // Without clearing the same leaves come back; with clearing, once.
        Assert.Equal(2, Read(d, 16 * MiB, 16 * MiB + 64 * KiB - 1).Count);
        Assert.Empty(Read(d, 16 * MiB, 16 * MiB + 64 * KiB - 1));
        // The translation is untouched.
        Assert.Equal(User + 6 * KiB, d.IovaToPhys(16 * MiB + 6 * KiB));
    }

    [Fact]
    public void A_size_coded_run_is_one_leaf_for_dirty_state()
    {
        // Huge: 1 MiB leaves are runs of two 512 KiB entries.
        var d = Tracking(MockPageTableType.Huge);
        Assert.Equal(Errno.Ok, d.Map(4 * MiB, User, 4 * MiB, RW));
        Assert.True(d.RecordWrite(5 * MiB + 700 * KiB)); // second entry of the run at 5 MiB
        Assert.Null(d.PageTable.Validate());
        // A range that starts inside the leaf still sees it whole.
        Assert.Equal([(5 * MiB, MiB)], Read(d, 5 * MiB + 600 * KiB, 5 * MiB + 600 * KiB, clear: false));
        Assert.Equal([(5 * MiB, MiB)], Read(d, 0, ulong.MaxValue));
        Assert.Empty(Read(d, 0, ulong.MaxValue));
        Assert.Null(d.PageTable.Validate());
    }

    [Fact]
    public void One_dirty_entry_of_a_run_marks_the_leaf_even_outside_the_scanned_range()
    {
        // Hardware may set D in just the entry its walk used: here the second half of a 1 MiB run.
        var d = Tracking(MockPageTableType.Huge);
        Assert.Equal(Errno.Ok, d.Map(4 * MiB, User, 4 * MiB, RW));
        var table = d.PageTable;
        Assert.True(table.MarkEntryDirty(5 * MiB + 700 * KiB));
        var sink = new Collect { Leaves = [] };
        // The range ends in the run's clean first entry; the dirty one lies past it.
        table.ScanDirty(4 * MiB, 5 * MiB + 100 * KiB, false, ref sink);
        Assert.Equal([(5 * MiB, MiB)], sink.Leaves);
        // A range inside the clean entry alone, and one starting in the dirty entry.
        sink.Leaves.Clear();
        table.ScanDirty(5 * MiB + 4 * KiB, 5 * MiB + 8 * KiB, false, ref sink);
        table.ScanDirty(5 * MiB + 600 * KiB, 7 * MiB, true, ref sink);
        Assert.Equal([(5 * MiB, MiB), (5 * MiB, MiB)], sink.Leaves);
        // Cleared in every entry of the run.
        Assert.Empty(Read(d, 0, ulong.MaxValue));
        Assert.Null(table.Validate());
    }

    [Fact]
    public void Writes_leave_no_mark_while_tracking_is_off_and_turning_it_on_starts_clean()
    {
        var d = new MockDomain(MockPageTableType.AmdV1, canTrackDirty: true);
        Assert.Equal(Errno.Ok, d.Map(0x10_0000, User, 0x10_0000, RW, largestPage: 4096));
        Assert.False(d.DirtyTracking);
        Assert.False(d.RecordWrite(0x10_0000));
        Assert.Empty(Read(d, 0, ulong.MaxValue, clear: false));

        Assert.Equal(Errno.Ok, d.SetDirtyTracking(true));
        Assert.True(d.RecordWrite(0x10_3000));
        Assert.Equal(Errno.Ok, d.SetDirtyTracking(false));
        // Off keeps what was recorded (it is only read); on again clears it.
        Assert.Single(Read(d, 0, ulong.MaxValue, clear: false));
        Assert.Equal(Errno.Ok, d.SetDirtyTracking(true));
        Assert.Empty(Read(d, 0, ulong.MaxValue, clear: false));
    }

    [Fact]
    public void A_domain_not_allocated_for_dirty_tracking_refuses_it()
    {
        var d = new MockDomain(MockPageTableType.Default);
        Assert.False(d.CanTrackDirty);
        Assert.Equal(Errno.EOPNOTSUPP, d.SetDirtyTracking(true));
        Assert.Equal(Errno.EOPNOTSUPP, d.SetDirtyTracking(false));
        Assert.False(d.DirtyTracking);
    }

    [Fact]
    public void Unmapping_a_dirty_leaf_forgets_it()
    {
        var d = Tracking(MockPageTableType.AmdV1);
        Assert.Equal(Errno.Ok, d.Map(0x20_0000, User, 0x20_0000, RW));
        Assert.True(d.RecordWrite(0x30_0000));
        d.Unmap(0x20_0000, 0x20_0000);
        Assert.Empty(Read(d, 0, ulong.MaxValue));
        Assert.Null(d.PageTable.Validate());
    }
}
