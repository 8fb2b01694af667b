/* vfio_helpers.h - what the vfio_* programs repeat: the preset they run on, opening a device
 * cdev (or skipping when the engine offers none), bind/attach, region access at the offsets
 * REGION_INFO gives, config space, and driving the DMA test device through BAR0. */
#ifndef CONFORMANCE_VFIO_HELPERS_H
#define CONFORMANCE_VFIO_HELPERS_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <poll.h>
#include <sched.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <time.h>
#include "check.h"
#include "dma_test_device.h"
#include "iommufd_helpers.h"
#include "vfio_uapi.h"

/* PCI config space offsets and bits the programs use. */
enum {
	PCI_VENDOR_ID = 0x00, PCI_DEVICE_ID = 0x02, PCI_COMMAND = 0x04, PCI_STATUS = 0x06,
	PCI_CLASS_PROG = 0x09, PCI_HEADER_TYPE = 0x0e, PCI_BAR0 = 0x10, PCI_CAP_PTR = 0x34,
	PCI_INTERRUPT_PIN = 0x3d,
};
enum { PCI_COMMAND_MEMORY = 1 << 1, PCI_COMMAND_MASTER = 1 << 2, PCI_STATUS_CAP_LIST = 1 << 4 };
enum { PCI_CAP_ID_MSI = 0x05, PCI_CAP_ID_EXP = 0x10, PCI_CAP_ID_MSIX = 0x11 };

/* The preset a vfio_* program was started under (test-conformance.sh passes it as argv[1]). */
struct preset {
	const char *name;
	uint32_t hw_info_type;
	/* One reserved IOVA window every device of the preset has (its MSI window). */
	uint64_t reserved_start, reserved_last;
};

static const struct preset presets[] = {
	{ "intel-vtd", IOMMU_HW_INFO_TYPE_INTEL_VTD, 0xfee00000, 0xfeefffff },
	/* v6.18's AMD driver reports no hw_info: type NONE. */
	{ "amd-vi", IOMMU_HW_INFO_TYPE_NONE, 0xfee00000, 0xfeefffff },
	{ "arm-smmuv3", IOMMU_HW_INFO_TYPE_ARM_SMMUV3, 0x8000000, 0x80fffff },
};

static inline const struct preset *preset_of(int argc, char **argv)
{
	const char *name = argc > 1 ? argv[1] : "intel-vtd";
	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
		if (!strcmp(presets[i].name, name))
			return &presets[i];
	fprintf(stderr, "unknown preset %s\n", name);
	exit(2);
}

/* open("/dev/vfio/devices/vfioN"), or -1 with errno. */
static inline int open_vfio(int index)
{
	char path[64];
	snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%d", index);
	return open(path, O_RDWR | O_CLOEXEC);
}

/* vfio0's fd; when the engine offers no device cdev yet, prints the skip line and exits 0. */
static inline int open_vfio0_or_skip(const char *prog, const struct preset *p)
{
	int fd = open_vfio(0);
	if (fd < 0) {
		printf("%s: skipped: no /dev/vfio/devices/vfio0 under --machine %s (%s)\n", prog, p->name,
		       check_errname(errno));
		exit(0);
	}
	return fd;
}

static inline int vfio_bind(int dev, int iommufd, uint32_t *devid)
{
	struct vfio_device_bind_iommufd b = { .argsz = sizeof(b), .iommufd = iommufd };
	int rc = ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &b);
	if (!rc && devid)
		*devid = b.out_devid;
	return rc;
}

/* Attach to pt (IOAS or HWPT); *hwpt gets the HWPT now in use (may be NULL). */
static inline int vfio_attach(int dev, uint32_t pt, uint32_t *hwpt)
{
	struct vfio_device_attach_iommufd_pt a = { .argsz = sizeof(a), .pt_id = pt };
	int rc = ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);
	if (!rc && hwpt)
		*hwpt = a.pt_id;
	return rc;
}

static inline int vfio_detach(int dev)
{
	struct vfio_device_detach_iommufd_pt d = { .argsz = sizeof(d) };
	return ioctl(dev, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static inline int region_info(int dev, uint32_t index, struct vfio_region_info *ri)
{
	memset(ri, 0, sizeof(*ri));
	ri->argsz = sizeof(*ri);
	ri->index = index;
	return ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, ri);
}

static inline int hw_info(int iommufd, uint32_t devid, struct iommu_hw_info *info, void *data, uint32_t len)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	info->dev_id = devid;
	info->data_len = len;
	info->data_uptr = (uintptr_t)data;
	return ioctl(iommufd, IOMMU_GET_HW_INFO, info);
}

static inline int hwpt_alloc(int iommufd, uint32_t devid, uint32_t pt, uint32_t flags, uint32_t *out)
{
	struct iommu_hwpt_alloc a = { .size = sizeof(a), .flags = flags, .dev_id = devid, .pt_id = pt };
	int rc = ioctl(iommufd, IOMMU_HWPT_ALLOC, &a);
	*out = rc ? 0 : a.out_hwpt_id;
	return rc;
}

/* A bound device with its config and BAR0 regions looked up. */
struct vdev {
	int fd;
	uint32_t devid;
	struct vfio_region_info cfg, bar0;
};

/* Region access: `width` bytes at `off` into the region, little-endian as PCI is. */
static inline uint64_t region_read(int fd, const struct vfio_region_info *r, uint64_t off, int width)
{
	uint64_t v = 0;
	if (pread(fd, &v, width, r->offset + off) != width)
		return ~0ull;
	return v;
}

static inline int region_write(int fd, const struct vfio_region_info *r, uint64_t off, uint64_t v, int width)
{
	return pwrite(fd, &v, width, r->offset + off) == width ? 0 : -1;
}

static inline uint64_t cfg_read(const struct vdev *d, int off, int width)
{
	return region_read(d->fd, &d->cfg, off, width);
}

static inline int cfg_write(const struct vdev *d, int off, uint64_t v, int width)
{
	return region_write(d->fd, &d->cfg, off, v, width);
}

static inline uint64_t reg_read(const struct vdev *d, int reg)
{
	return region_read(d->fd, &d->bar0, reg, 8);
}

static inline int reg_write(const struct vdev *d, int reg, uint64_t v)
{
	return region_write(d->fd, &d->bar0, reg, v, 8);
}

/* The config offset of capability `id` (standard list), or 0. */
static inline int find_cap(const struct vdev *d, int id)
{
	if (!(cfg_read(d, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	int pos = cfg_read(d, PCI_CAP_PTR, 1) & 0xfc;
	for (int hops = 0; pos >= 0x40 && hops < 48; hops++) {
		if ((int)cfg_read(d, pos, 1) == id)
			return pos;
		pos = cfg_read(d, pos + 1, 1) & 0xfc;
	}
	return 0;
}

/* Turns memory decoding and bus mastering on or off in the command register. */
static inline int set_bus_master(const struct vdev *d, bool on)
{
	uint64_t cmd = cfg_read(d, PCI_COMMAND, 2) | PCI_COMMAND_MEMORY;
	cmd = on ? cmd | PCI_COMMAND_MASTER : cmd & ~(uint64_t)PCI_COMMAND_MASTER;
	return cfg_write(d, PCI_COMMAND, cmd, 2);
}

/* Binds `fd`, looks up its regions and turns bus mastering on; 0 or -1 (errno from the ioctl). */
static inline int vdev_setup(struct vdev *d, int fd, int iommufd)
{
	memset(d, 0, sizeof(*d));
	d->fd = fd;
	if (vfio_bind(fd, iommufd, &d->devid) ||
	    region_info(fd, VFIO_PCI_CONFIG_REGION_INDEX, &d->cfg) ||
	    region_info(fd, VFIO_PCI_BAR0_REGION_INDEX, &d->bar0))
		return -1;
	return set_bus_master(d, true);
}

/* One operation: programs the registers, rings the doorbell, waits (up to 2 s) for COMPLETED
 * to move on and returns STATUS (~0 on a timeout). */
static inline uint64_t dma_op(const struct vdev *d, int op, uint64_t src, uint64_t dst, uint64_t len)
{
	uint64_t before = reg_read(d, DMA_REG_COMPLETED);
	reg_write(d, DMA_REG_SRC, src);
	reg_write(d, DMA_REG_DST, dst);
	reg_write(d, DMA_REG_LEN, len);
	reg_write(d, DMA_REG_DOORBELL, op);
	struct timespec start, now;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		if (reg_read(d, DMA_REG_COMPLETED) != before)
			return reg_read(d, DMA_REG_STATUS);
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec - start.tv_sec >= 2)
			return ~0ull;
		sched_yield();
	}
}

static inline uint64_t dma_copy(const struct vdev *d, uint64_t src, uint64_t dst, uint64_t len)
{
	return dma_op(d, DMA_OP_COPY, src, dst, len);
}

static inline uint64_t dma_fill(const struct vdev *d, uint64_t dst, uint64_t len, uint64_t pattern)
{
	reg_write(d, DMA_REG_PATTERN, pattern);
	return dma_op(d, DMA_OP_FILL, 0, dst, len);
}

/* Anonymous, page-aligned memory for DMA buffers. */
static inline void *buffer(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(2);
	}
	return p;
}

/* Maps `len` bytes of buf at the fixed `iova` with `flags` (READABLE/WRITEABLE). */
static inline int map_at(int iommufd, uint32_t ioas, void *buf, uint64_t len, uint64_t iova, uint32_t flags)
{
	return ioas_map(iommufd, ioas, buf, len, flags | IOMMU_IOAS_MAP_FIXED_IOVA, &iova);
}

/* True when `efd` becomes readable within `ms` (then it is drained). */
static inline bool eventfd_fired(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	if (poll(&p, 1, ms) != 1)
		return false;
	uint64_t n;
	return read(efd, &n, sizeof(n)) == sizeof(n) && n > 0;
}

/* SET_IRQS for MSI-X vectors [start, start+count) with eventfds (-1 = none). */
static inline int set_msix_eventfds(int dev, uint32_t start, uint32_t count, const int32_t *fds)
{
	char buf[sizeof(struct vfio_irq_set) + 8 * sizeof(int32_t)];
	struct vfio_irq_set *s = (struct vfio_irq_set *)buf;
	s->argsz = sizeof(*s) + count * sizeof(int32_t);
	s->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	s->index = VFIO_PCI_MSIX_IRQ_INDEX;
	s->start = start;
	s->count = count;
	memcpy(s->data, fds, count * sizeof(int32_t));
	return ioctl(dev, VFIO_DEVICE_SET_IRQS, s);
}

#endif
