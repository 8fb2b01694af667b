/* vfio_flow.c - a VMM's path through one device cdev, in the kernel's order: bind to an iommufd,
 * GET_HW_INFO of the preset's IOMMU, an IOAS and a HWPT, attach, the IOVA ranges with the
 * IOMMU's reserved window, config space, region info, an MSI-X eventfd, then DMA copy and fill
 * through BAR0 checked byte for byte, and a reset. Run as `vfio_flow PRESET`. */
#define _GNU_SOURCE
#include "vfio_helpers.h"

#define PAGE 4096
#define LEN (4 * PAGE)
#define SRC_IOVA 0x100000ull
#define DST_IOVA 0x200000ull

static void check_ranges(int fd, uint32_t ioas, const struct preset *p)
{
	struct iommu_iova_range r[16];
	uint32_t n = 0;
	CHECK_ERR(iova_ranges(fd, ioas, r, 16, &n, NULL), 0);
	bool window_out = n > 0 && n <= 16, low_in = false;
	for (uint32_t i = 0; i < n && i < 16; i++) {
		if (r[i].start <= p->reserved_last && r[i].last >= p->reserved_start)
			window_out = false;
		if (r[i].start <= SRC_IOVA && r[i].last >= DST_IOVA + LEN - 1)
			low_in = true;
	}
	CHECK(window_out, "IOVA ranges (%u) leave out the reserved window 0x%llx-0x%llx", n,
	      (unsigned long long)p->reserved_start, (unsigned long long)p->reserved_last);
	CHECK(low_in, "IOVA ranges include 0x%llx-0x%llx", SRC_IOVA, DST_IOVA + LEN - 1);
	char *b = buffer(PAGE);
	CHECK_ERR(map_at(fd, ioas, b, PAGE, p->reserved_start, MAP_RW), EINVAL);
	munmap(b, PAGE);
}

static void check_config(const struct vdev *d)
{
	CHECK(d->cfg.size >= 256 && (d->cfg.flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE)) ==
		(VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE),
	      "config region: %llu bytes, flags 0x%x", (unsigned long long)d->cfg.size, d->cfg.flags);
	CHECK(cfg_read(d, PCI_VENDOR_ID, 2) == DMA_TEST_VENDOR_ID && cfg_read(d, PCI_DEVICE_ID, 2) == DMA_TEST_DEVICE_ID,
	      "config IDs %04llx:%04llx (want %04x:%04x)", (unsigned long long)cfg_read(d, PCI_VENDOR_ID, 2),
	      (unsigned long long)cfg_read(d, PCI_DEVICE_ID, 2), DMA_TEST_VENDOR_ID, DMA_TEST_DEVICE_ID);
	uint64_t class = cfg_read(d, PCI_CLASS_PROG + 1, 2); /* subclass at 0x0a, class at 0x0b */
	CHECK(class == DMA_TEST_CLASS, "class code 0x%04llx", (unsigned long long)class);
	CHECK((cfg_read(d, PCI_HEADER_TYPE, 1) & 0x7f) == 0, "header type 0 (an endpoint)");
	int msix = find_cap(d, PCI_CAP_ID_MSIX);
	CHECK(msix != 0, "MSI-X capability in the list (at 0x%x)", msix);
	if (msix) {
		struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = VFIO_PCI_MSIX_IRQ_INDEX };
		ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq);
		uint32_t table = (cfg_read(d, msix + 2, 2) & 0x7ff) + 1;
		CHECK(irq.count == table, "MSI-X: GET_IRQ_INFO count %u = the capability's table size %u", irq.count,
		      table);
	}
	CHECK(find_cap(d, PCI_CAP_ID_EXP) != 0, "PCI Express capability in the list");
	/* Bus master is the guest's to set: it must stick and read back. */
	set_bus_master(d, false);
	CHECK(!(cfg_read(d, PCI_COMMAND, 2) & PCI_COMMAND_MASTER), "bus master off reads back off");
	set_bus_master(d, true);
	CHECK(cfg_read(d, PCI_COMMAND, 2) & PCI_COMMAND_MASTER, "bus master on reads back on");
}

static void check_regions(const struct vdev *d)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info), 0);
	CHECK(info.flags & VFIO_DEVICE_FLAGS_PCI, "GET_INFO says PCI (flags 0x%x)", info.flags);
	CHECK(info.num_regions >= VFIO_PCI_NUM_REGIONS && info.num_irqs >= VFIO_PCI_NUM_IRQS,
	      "GET_INFO: %u regions, %u irqs", info.num_regions, info.num_irqs);
	CHECK(d->bar0.size == DMA_TEST_BAR0_SIZE, "BAR0 is %llu bytes", (unsigned long long)d->bar0.size);
	CHECK((d->bar0.flags & 3) == 3, "BAR0 readable and writable (flags 0x%x)", d->bar0.flags);
	CHECK(d->bar0.offset != d->cfg.offset, "BAR0 and config have their own offsets");
	uint32_t bar = cfg_read(d, PCI_BAR0, 4);
	CHECK((bar & 1) == 0, "config BAR0 is a memory BAR (0x%08x)", bar);
	struct vfio_region_info r;
	CHECK_ERR(region_info(d->fd, 1, &r), 0);
	CHECK(r.size == 0 || bar & 4, "BAR1 is not implemented (size %llu) unless BAR0 is 64-bit",
	      (unsigned long long)r.size);
	uint64_t id = reg_read(d, DMA_REG_ID);
	CHECK(!memcmp(&id, "IOMMUDMA", 8), "BAR0 ID register reads \"IOMMUDMA\"");
}

static void check_dma(int fd, uint32_t ioas, const struct vdev *d)
{
	uint8_t *src = buffer(LEN), *dst = buffer(LEN);
	for (int i = 0; i < LEN; i++)
		src[i] = (uint8_t)(i * 7 + 3);
	memset(dst, 0xee, LEN);
	CHECK_ERR(map_at(fd, ioas, src, LEN, SRC_IOVA, MAP_RW), 0);
	CHECK_ERR(map_at(fd, ioas, dst, LEN, DST_IOVA, MAP_RW), 0);

	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int32_t fds[1] = { efd };
	CHECK_ERR(set_msix_eventfds(d->fd, 0, 1, fds), 0);

	uint64_t done = reg_read(d, DMA_REG_COMPLETED);
	CHECK(dma_copy(d, SRC_IOVA, DST_IOVA, LEN) == DMA_STATUS_DONE, "copy %d bytes: status done", LEN);
	CHECK(!memcmp(src, dst, LEN), "copy: every byte arrived");
	CHECK(eventfd_fired(efd, 2000), "MSI-X vector 0's eventfd fired on completion");
	CHECK(reg_read(d, DMA_REG_COMPLETED) == done + 1, "COMPLETED counts the copy");

	uint64_t pattern = 0x0123456789abcdefull;
	CHECK(dma_fill(d, DST_IOVA + 8, LEN - 24, pattern) == DMA_STATUS_DONE, "fill: status done");
	bool ok = true;
	for (int i = 0; i < LEN; i++) {
		uint8_t want = i < 8 || i >= LEN - 16 ? src[i] : (uint8_t)(pattern >> (8 * ((i - 8) % 8)));
		ok &= dst[i] == want;
	}
	CHECK(ok, "fill: the pattern repeats little-endian from DST, the bytes around it untouched");
	CHECK(eventfd_fired(efd, 2000), "the eventfd fired again");

	/* A partial length: exactly LEN bytes move, not a byte more. */
	memset(dst, 0, LEN);
	CHECK(dma_copy(d, SRC_IOVA + 1, DST_IOVA + 3, 1000) == DMA_STATUS_DONE, "unaligned copy of 1000 bytes");
	ok = !dst[0] && !dst[1] && !dst[2] && !memcmp(dst + 3, src + 1, 1000) && !dst[1003];
	CHECK(ok, "unaligned copy: bytes 3..1002 only");

	int32_t none[1] = { -1 };
	CHECK_ERR(set_msix_eventfds(d->fd, 0, 1, none), 0);
	CHECK(dma_copy(d, SRC_IOVA, DST_IOVA, 64) == DMA_STATUS_DONE, "copy with no eventfd set");
	CHECK(!eventfd_fired(efd, 50), "the removed eventfd stays quiet");
	close(efd);
	munmap(src, LEN);
	munmap(dst, LEN);
}

static void check_reset(const struct vdev *d)
{
	struct vfio_device_info info = { .argsz = sizeof(info) };
	ioctl(d->fd, VFIO_DEVICE_GET_INFO, &info);
	if (!(info.flags & VFIO_DEVICE_FLAGS_RESET)) {
		CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_RESET), EINVAL);
		return;
	}
	reg_write(d, DMA_REG_SRC, 0x1234000);
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_RESET), 0);
	CHECK(reg_read(d, DMA_REG_SRC) == 0 && reg_read(d, DMA_REG_COMPLETED) == 0 &&
		      reg_read(d, DMA_REG_STATUS) == DMA_STATUS_IDLE,
	      "reset cleared SRC, COMPLETED and STATUS");
}

int main(int argc, char **argv)
{
	const struct preset *p = preset_of(argc, argv);
	int dev = open_vfio0_or_skip("vfio_flow", p);
	int fd = open_iommufd();
	struct vdev d;
	CHECK_ERR(vdev_setup(&d, dev, fd), 0);
	CHECK(d.devid != 0, "bind gave device ID %u", d.devid);

	struct iommu_hw_info hi;
	uint8_t data[256];
	CHECK_ERR(hw_info(fd, d.devid, &hi, data, sizeof(data)), 0);
	CHECK(hi.out_data_type == p->hw_info_type, "GET_HW_INFO type %u on %s (want %u)", hi.out_data_type,
	      p->name, p->hw_info_type);

	uint32_t ioas = ioas_alloc(fd), hwpt = 0, attached = 0;
	CHECK(ioas != 0, "IOAS_ALLOC");
	CHECK_ERR(hwpt_alloc(fd, d.devid, ioas, 0, &hwpt), 0);
	CHECK_ERR(vfio_attach(dev, hwpt, &attached), 0);
	CHECK(attached == hwpt, "attach to a HWPT returns that HWPT (%u)", attached);
	CHECK_ERR(destroy(fd, hwpt), EBUSY);
	check_ranges(fd, ioas, p);
	check_config(&d);
	check_regions(&d);
	check_dma(fd, ioas, &d);
	check_reset(&d);

	CHECK_ERR(vfio_detach(dev), 0);
	CHECK_ERR(destroy(fd, hwpt), 0);
	close(dev);
	close(fd);
	return check_done("vfio_flow");
}
