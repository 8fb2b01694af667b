/* A VMM's path in short: bind a VFIO device cdev to an iommufd, map memory into an IOAS,
 * attach, read config space, and let the device copy a page by DMA through its BAR0. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "vfio_uapi.h" /* or <linux/vfio.h> and <linux/iommufd.h> */

#define FAIL(what) do { perror(what); return 1; } while (0)

static uint64_t rd(int dev, uint64_t off, int n) { uint64_t v = 0; pread(dev, &v, n, off); return v; }
static void wr(int dev, uint64_t off, uint64_t v, int n) { pwrite(dev, &v, n, off); }

int main(void)
{
	int iommufd = open("/dev/iommu", O_RDWR), dev = open("/dev/vfio/devices/vfio0", O_RDWR);
	if (dev < 0) {
		printf("vfio_example: skipped: no vfio0 (run under iommufd-emu run --machine intel-vtd)\n");
		return 0;
	}
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = iommufd };
	if (ioctl(dev, VFIO_DEVICE_BIND_IOMMUFD, &bind)) FAIL("bind");

	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	if (ioctl(iommufd, IOMMU_IOAS_ALLOC, &alloc)) FAIL("IOAS_ALLOC");
	char *mem = mmap(NULL, 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct iommu_ioas_map map = {
		.size = sizeof(map), .ioas_id = alloc.out_ioas_id, .user_va = (uintptr_t)mem,
		.length = 2 * 4096, .iova = 0x100000,
		.flags = IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE,
	};
	if (ioctl(iommufd, IOMMU_IOAS_MAP, &map)) FAIL("IOAS_MAP");
	struct vfio_device_attach_iommufd_pt attach = { .argsz = sizeof(attach), .pt_id = alloc.out_ioas_id };
	if (ioctl(dev, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &attach)) FAIL("attach");

	struct vfio_region_info cfg = { .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_region_info bar0 = { .argsz = sizeof(bar0), .index = VFIO_PCI_BAR0_REGION_INDEX };
	if (ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &cfg) || ioctl(dev, VFIO_DEVICE_GET_REGION_INFO, &bar0))
		FAIL("GET_REGION_INFO");
	printf("device %04llx:%04llx\n", (unsigned long long)rd(dev, cfg.offset + 0, 2),
	       (unsigned long long)rd(dev, cfg.offset + 2, 2));
	wr(dev, cfg.offset + 4, rd(dev, cfg.offset + 4, 2) | 0x6, 2); /* memory space + bus master */

	strcpy(mem, "hello through the IOMMU");
	wr(dev, bar0.offset + 0x08, 0x100000, 8); /* SRC */
	wr(dev, bar0.offset + 0x10, 0x101000, 8); /* DST */
	wr(dev, bar0.offset + 0x18, 64, 8);       /* LEN */
	wr(dev, bar0.offset + 0x28, 1, 8);        /* DOORBELL: copy */
	for (int i = 0; i < 1000000 && rd(dev, bar0.offset + 0x38, 8) == 0; i++)
		; /* STATUS: 0 idle, 1 done, 2 fault */
	printf("status %llu: %s\n", (unsigned long long)rd(dev, bar0.offset + 0x38, 8), mem + 4096);
	if (strcmp(mem + 4096, mem)) { printf("DMA copy: bytes differ\n"); return 1; }
	printf("vfio_example: ok\n");
	return 0;
}
