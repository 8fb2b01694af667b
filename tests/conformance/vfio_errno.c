/* vfio_errno.c - the kernel's errno for every device cdev ioctl and region access: before bind
 * (EINVAL for everything but BIND), bad argsz and flags, bad indexes, a second bind, bad fds, the
 * capability chain's two-call protocol, and what vfio-pci refuses (MSI-X masking, unknown
 * features). Run as `vfio_errno PRESET`. */
#define _GNU_SOURCE
#include "vfio_helpers.h"

/* An ioctl with a zeroed argument of `size` bytes whose argsz (first u32) is `argsz`. */
static int ioctl_argsz(int fd, unsigned long cmd, uint32_t argsz)
{
	uint8_t buf[64] = { 0 };
	memcpy(buf, &argsz, 4);
	return ioctl(fd, cmd, buf);
}

static void before_bind(int dev)
{
	static const struct { unsigned long cmd; const char *name; uint32_t size; } cmds[] = {
		{ VFIO_DEVICE_GET_INFO, "GET_INFO", sizeof(struct vfio_device_info) },
		{ VFIO_DEVICE_GET_REGION_INFO, "GET_REGION_INFO", sizeof(struct vfio_region_info) },
		{ VFIO_DEVICE_GET_IRQ_INFO, "GET_IRQ_INFO", sizeof(struct vfio_irq_info) },
		{ VFIO_DEVICE_SET_IRQS, "SET_IRQS", sizeof(struct vfio_irq_set) },
		{ VFIO_DEVICE_RESET, "RESET", 0 },
		{ VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, "GET_PCI_HOT_RESET_INFO", sizeof(struct vfio_pci_hot_reset_info) },
		{ VFIO_DEVICE_FEATURE, "FEATURE", sizeof(struct vfio_device_feature) },
		{ VFIO_DEVICE_ATTACH_IOMMUFD_PT, "ATTACH_IOMMUFD_PT", sizeof(struct vfio_device_attach_iommufd_pt) },
		{ VFIO_DEVICE_DETACH_IOMMUFD_PT, "DETACH_IOMMUFD_PT", sizeof(struct vfio_device_detach_iommufd_pt) },
	};
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		errno = 0;
		int rc = ioctl_argsz(dev, cmds[i].cmd, cmds[i].size);
		CHECK(rc == -1 && errno == EINVAL, "%s before bind -> %s (want EINVAL)", cmds[i].name,
		      rc ? check_errname(errno) : "0");
	}
	uint32_t v;
	errno = 0;
	CHECK(pread(dev, &v, 4, 0) == -1 && errno == EINVAL, "pread before bind -> EINVAL (%s)", check_errname(errno));
	errno = 0;
	CHECK(pwrite(dev, &v, 4, 0) == -1 && errno == EINVAL, "pwrite before bind -> EINVAL (%s)", check_errname(errno));
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, dev, 0) == MAP_FAILED && errno == EINVAL,
	      "mmap before bind -> EINVAL (%s)", check_errname(errno));
	CHECK_ERR(ioctl(dev, _IO(';', 100 + 60)), EINVAL); /* even an unknown command, before bind */
}

/* Returns the device ID of the bind that finally succeeds. */
static uint32_t bind_errors(int dev, int fd)
{
	struct vfio_device_bind_iommufd b = { .argsz = VFIO_BIND_MINSZ - 1, .iommufd = fd };
	CHECK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL);
	b = (struct vfio_device_bind_iommufd){ .argsz = sizeof(b), .flags = 1u << 1, .iommufd = fd };
	CHECK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL);
	b = (struct vfio_device_bind_iommufd){ .argsz = sizeof(b), .iommufd = -1 };
	CHECK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EINVAL);
	int notiommu = eventfd(0, EFD_CLOEXEC);
	b.iommufd = notiommu;
	CHECK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EBADFD);
	close(notiommu);
	b.iommufd = notiommu; /* now closed */
	CHECK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), EBADF);
	/* A bigger struct than the kernel's is fine only when the tail is zero. */
	struct { struct vfio_device_bind_iommufd b; uint64_t tail; } big = {
		.b = { .argsz = sizeof(big), .iommufd = fd }, .tail = 1 };
	CHECK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &big), E2BIG);
	/* The minimal size (no token pointer) binds. */
	b = (struct vfio_device_bind_iommufd){ .argsz = VFIO_BIND_MINSZ, .iommufd = fd };
	CHECK_ERR(ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b), 0);
	CHECK(b.out_devid != 0, "bind with argsz 16 gave device ID %u", b.out_devid);
	CHECK_ERR(vfio_bind(dev, fd, NULL), EINVAL);
	/* The cdev path opens a device once: another file of the same device cannot bind. */
	int again = open_vfio(0);
	CHECK(again >= 0, "a second open of vfio0 succeeds");
	CHECK_ERR(vfio_bind(again, fd, NULL), EINVAL);
	close(again);
	return b.out_devid;
}

static void info_errors(const struct vdev *d)
{
	CHECK_ERR(ioctl(d->fd, _IO(';', 100 + 60)), ENOTTY); /* bound: vfio-pci knows no such command */
	CHECK_ERR(ioctl_argsz(d->fd, VFIO_DEVICE_GET_INFO, VFIO_INFO_MINSZ - 1), EINVAL);
	struct vfio_region_info r = { .argsz = VFIO_REGION_INFO_MINSZ - 1 };
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, &r), EINVAL);
	CHECK_ERR(region_info(d->fd, VFIO_PCI_NUM_REGIONS, &r), EINVAL);
	CHECK_ERR(region_info(d->fd, VFIO_PCI_VGA_REGION_INDEX, &r), EINVAL);
	CHECK_ERR(region_info(d->fd, 0xffffffff, &r), EINVAL);
	CHECK_ERR(region_info(d->fd, VFIO_PCI_ROM_REGION_INDEX, &r), 0);
	CHECK(r.size == 0 && r.flags == 0, "no expansion ROM: size %llu, flags 0x%x", (unsigned long long)r.size,
	      r.flags);
	CHECK_ERR(region_info(d->fd, VFIO_PCI_BAR5_REGION_INDEX, &r), 0);
	CHECK(r.size == 0 && r.flags == 0, "BAR5 not implemented: size 0, flags 0");

	/* The capability chain: too small an argsz gets the size needed, CAPS and no offset. */
	CHECK_ERR(region_info(d->fd, VFIO_PCI_BAR0_REGION_INDEX, &r), 0);
	if (r.flags & VFIO_REGION_INFO_FLAG_CAPS) {
		CHECK(r.argsz > sizeof(r) && r.cap_offset == 0, "BAR0 caps: argsz %u wanted, cap_offset %u",
		      r.argsz, r.cap_offset);
		uint8_t buf[512] = { 0 };
		struct vfio_region_info *big = (struct vfio_region_info *)buf;
		big->argsz = sizeof(buf);
		big->index = 0;
		CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_REGION_INFO, big), 0);
		bool ok = big->cap_offset >= sizeof(r);
		for (uint32_t off = big->cap_offset, hops = 0; ok && off && hops < 8; hops++) {
			struct vfio_info_cap_header *h = (struct vfio_info_cap_header *)(buf + off);
			ok = off + sizeof(*h) <= r.argsz && h->id >= VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
			     h->id <= VFIO_REGION_INFO_CAP_MSIX_MAPPABLE && (h->next == 0 || h->next > off);
			off = h->next;
		}
		CHECK(ok, "BAR0's capability chain is well formed");
	} else {
		CHECK(r.cap_offset == 0, "BAR0 without CAPS has cap_offset 0");
	}

	struct vfio_irq_info irq = { .argsz = sizeof(irq) - 1, .index = VFIO_PCI_MSIX_IRQ_INDEX };
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq), EINVAL);
	irq = (struct vfio_irq_info){ .argsz = sizeof(irq), .index = VFIO_PCI_NUM_IRQS };
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq), EINVAL);
	irq.index = VFIO_PCI_MSIX_IRQ_INDEX;
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq), 0);
	CHECK(irq.count >= 1 && irq.flags == (VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_NORESIZE),
	      "MSI-X: %u vectors, flags 0x%x (EVENTFD|NORESIZE)", irq.count, irq.flags);
	irq.index = VFIO_PCI_INTX_IRQ_INDEX;
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq), 0);
	uint32_t pin = cfg_read(d, PCI_INTERRUPT_PIN, 1);
	CHECK(irq.count == (pin ? 1u : 0u) &&
		      irq.flags == (VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED),
	      "INTx: count %u for pin %u, flags 0x%x", irq.count, pin, irq.flags);
	irq.index = VFIO_PCI_ERR_IRQ_INDEX;
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq), 0);
	CHECK(irq.count == 1, "a PCIe function has the error IRQ (count %u)", irq.count);
}

static int set_irqs(int dev, uint32_t flags, uint32_t index, uint32_t start, uint32_t count, int32_t fdv,
		    uint32_t argsz)
{
	uint8_t buf[64] = { 0 };
	struct vfio_irq_set *s = (struct vfio_irq_set *)buf;
	*s = (struct vfio_irq_set){ .argsz = argsz, .flags = flags, .index = index, .start = start, .count = count };
	memcpy(s->data, &fdv, sizeof(fdv));
	return ioctl(dev, VFIO_DEVICE_SET_IRQS, s);
}

static void irq_errors(const struct vdev *d)
{
	const uint32_t trig = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, hdr = 20, one = hdr + 4;
	const uint32_t msix = VFIO_PCI_MSIX_IRQ_INDEX;
	struct vfio_irq_info irq = { .argsz = sizeof(irq), .index = msix };
	ioctl(d->fd, VFIO_DEVICE_GET_IRQ_INFO, &irq);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK_ERR(set_irqs(d->fd, trig, msix, 0, 1, efd, hdr - 1), EINVAL);
	CHECK_ERR(set_irqs(d->fd, trig, VFIO_PCI_NUM_IRQS, 0, 1, efd, one), EINVAL);
	CHECK_ERR(set_irqs(d->fd, trig | VFIO_IRQ_SET_DATA_BOOL, msix, 0, 1, efd, one), EINVAL);
	CHECK_ERR(set_irqs(d->fd, trig | (1u << 6), msix, 0, 1, efd, one), EINVAL);
	CHECK_ERR(set_irqs(d->fd, trig, msix, 0, 1, efd, hdr), EINVAL);        /* no room for the fd */
	CHECK_ERR(set_irqs(d->fd, trig, msix, irq.count, 1, efd, one), EINVAL); /* past the last vector */
	CHECK_ERR(set_irqs(d->fd, trig, msix, 0, 1, 9999, one), EBADF);        /* not an open fd */
	CHECK_ERR(set_irqs(d->fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK, msix, 0, 1, 0, hdr), ENOTTY);
	CHECK_ERR(set_irqs(d->fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK, msix, 0, 1, 0, hdr), ENOTTY);
	CHECK_ERR(set_irqs(d->fd, trig, msix, 0, 1, efd, one), 0);
	CHECK_ERR(set_irqs(d->fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, msix, 0, 0, 0, hdr), 0);
	close(efd);
}

static int feature(int dev, uint32_t flags, uint32_t argsz)
{
	struct vfio_device_feature f = { .argsz = argsz, .flags = flags };
	return ioctl(dev, VFIO_DEVICE_FEATURE, &f);
}

static void feature_errors(int dev)
{
	const uint32_t probe_get = VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_GET;
	CHECK_ERR(feature(dev, probe_get | VFIO_DEVICE_FEATURE_MIGRATION, 7), EINVAL);
	CHECK_ERR(feature(dev, (1u << 19) | VFIO_DEVICE_FEATURE_MIGRATION, 8), EINVAL);
	CHECK_ERR(feature(dev, VFIO_DEVICE_FEATURE_GET | VFIO_DEVICE_FEATURE_SET | VFIO_DEVICE_FEATURE_MIGRATION, 8),
		  EINVAL);
	/* The DMA test device has neither migration nor device dirty logging; QEMU probes both. */
	CHECK_ERR(feature(dev, probe_get | VFIO_DEVICE_FEATURE_MIGRATION, 8), ENOTTY);
	CHECK_ERR(feature(dev, VFIO_DEVICE_FEATURE_PROBE | VFIO_DEVICE_FEATURE_SET |
				       VFIO_DEVICE_FEATURE_DMA_LOGGING_START, 8), ENOTTY);
	CHECK_ERR(feature(dev, probe_get | 0xfff0, 8), ENOTTY);
}

static void attach_errors(const struct vdev *d, int fd)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = VFIO_ATTACH_MINSZ - 1 };
	uint32_t ioas = ioas_alloc(fd);
	a.pt_id = ioas;
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), EINVAL);
	a = (struct vfio_device_attach_iommufd_pt){ .argsz = sizeof(a), .flags = 1u << 1, .pt_id = ioas };
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), EINVAL);
	a = (struct vfio_device_attach_iommufd_pt){ .argsz = VFIO_ATTACH_MINSZ, .flags = VFIO_DEVICE_ATTACH_PASID,
						    .pt_id = ioas };
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a), EINVAL); /* PASID needs argsz for pasid */
	CHECK_ERR(vfio_attach(d->fd, 0x7fffffff, NULL), ENOENT);
	CHECK_ERR(vfio_attach(d->fd, d->devid, NULL), EINVAL); /* a device is no page table */
	CHECK_ERR(vfio_detach(d->fd), 0);                      /* not attached: nothing to do */
	uint32_t hwpt = 0;
	CHECK_ERR(vfio_attach(d->fd, ioas, &hwpt), 0);
	CHECK(hwpt != 0 && hwpt != ioas, "attach to an IOAS returns its automatic HWPT (%u)", hwpt);
	CHECK_ERR(destroy(fd, ioas), EBUSY);
	struct vfio_device_detach_iommufd_pt dt = { .argsz = VFIO_DETACH_MINSZ - 1 };
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt), EINVAL);
	dt = (struct vfio_device_detach_iommufd_pt){ .argsz = sizeof(dt), .flags = 1u << 1 };
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt), EINVAL);
	CHECK_ERR(vfio_detach(d->fd), 0);
	CHECK_ERR(destroy(fd, ioas), 0); /* the automatic HWPT went with the detach */
}

static void access_errors(const struct vdev *d)
{
	uint32_t v = 0;
	errno = 0;
	CHECK(pread(d->fd, &v, 4, d->cfg.offset + d->cfg.size) == -1 && errno == EFAULT,
	      "pread past config space -> EFAULT (%s)", check_errname(errno));
	errno = 0;
	CHECK(pread(d->fd, &v, 4, d->bar0.offset + d->bar0.size) == -1 && errno == EINVAL,
	      "pread past BAR0 -> EINVAL (%s)", check_errname(errno));
	errno = 0;
	CHECK(pread(d->fd, &v, 4, (uint64_t)40 << 40) == -1 && errno == EINVAL,
	      "pread where no region is -> EINVAL (%s)", check_errname(errno));
	void *none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	errno = 0;
	CHECK(pread(d->fd, none, 4, d->cfg.offset) == -1 && errno == EFAULT,
	      "pread into an inaccessible buffer -> EFAULT (%s)", check_errname(errno));
	munmap(none, 4096);
	errno = 0;
	CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, d->fd, d->cfg.offset) == MAP_FAILED && errno == EINVAL,
	      "mmap of config space -> EINVAL (%s)", check_errname(errno));
	if (!(d->bar0.flags & VFIO_REGION_INFO_FLAG_MMAP)) {
		errno = 0;
		CHECK(mmap(NULL, 4096, PROT_READ, MAP_SHARED, d->fd, d->bar0.offset) == MAP_FAILED && errno == EINVAL,
		      "mmap of BAR0 without the MMAP flag -> EINVAL (%s)", check_errname(errno));
	}
}

static void hot_reset_info(const struct vdev *d)
{
	uint8_t buf[256] = { 0 };
	struct vfio_pci_hot_reset_info *h = (struct vfio_pci_hot_reset_info *)buf;
	h->argsz = sizeof(*h) - 1;
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, h), EINVAL);
	h->argsz = sizeof(*h);
	errno = 0;
	int rc = ioctl(d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, h);
	if (rc && errno == ENODEV) {
		CHECK(true, "hot-reset info: no slot or bus reset (ENODEV)");
		return;
	}
	CHECK(rc == -1 && errno == ENOSPC && h->count >= 1, "hot-reset info without room -> ENOSPC, count %u",
	      h->count);
	h->argsz = sizeof(buf);
	CHECK_ERR(ioctl(d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, h), 0);
	bool self = false;
	for (uint32_t i = 0; i < h->count && i < 30; i++)
		self |= h->devices[i].devid == d->devid;
	CHECK((h->flags & VFIO_PCI_HOT_RESET_FLAG_DEV_ID) && self,
	      "hot-reset info names devices by iommufd ID (flags 0x%x), this one included", h->flags);
}

int main(int argc, char **argv)
{
	const struct preset *p = preset_of(argc, argv);
	int dev = open_vfio0_or_skip("vfio_errno", p);
	int fd = open_iommufd();
	before_bind(dev);
	struct vdev d = { .fd = dev, .devid = bind_errors(dev, fd) };
	struct iommu_hw_info hi;
	CHECK_ERR(hw_info(fd, d.devid, &hi, NULL, 0), 0);
	CHECK_ERR(hw_info(fd, d.devid + 1000, &hi, NULL, 0), ENOENT);
	CHECK_ERR(region_info(dev, VFIO_PCI_CONFIG_REGION_INDEX, &d.cfg), 0);
	CHECK_ERR(region_info(dev, VFIO_PCI_BAR0_REGION_INDEX, &d.bar0), 0);

	info_errors(&d);
	irq_errors(&d);
	feature_errors(dev);
	attach_errors(&d, fd);
	access_errors(&d);
	hot_reset_info(&d);
	close(dev);
	close(fd);
	return check_done("vfio_errno");
}
