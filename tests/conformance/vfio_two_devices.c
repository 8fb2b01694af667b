/* vfio_two_devices.c - vfio0 and vfio1 (two functions in different groups behind one IOMMU)
 * bound to one iommufd and attached to one IOAS: they share its automatic domain, both see
 * every mapping (one writes, the other reads it back), an unmap takes the IOVA from both, and
 * detaching one leaves the other working. Run as `vfio_two_devices PRESET`. */
#define _GNU_SOURCE
#include "vfio_helpers.h"

#define PAGE 4096
#define A 0x100000ull
#define B 0x200000ull

int main(int argc, char **argv)
{
	const struct preset *p = preset_of(argc, argv);
	int dev0 = open_vfio0_or_skip("vfio_two_devices", p);
	int dev1 = open_vfio(1);
	CHECK(dev1 >= 0, "open /dev/vfio/devices/vfio1 (%s)", check_errname(dev1 < 0 ? errno : 0));
	if (dev1 < 0)
		return check_done("vfio_two_devices");
	int fd = open_iommufd();
	struct vdev d0, d1;
	CHECK_ERR(vdev_setup(&d0, dev0, fd), 0);
	CHECK_ERR(vdev_setup(&d1, dev1, fd), 0);
	CHECK(d0.devid && d1.devid && d0.devid != d1.devid, "two device IDs (%u, %u)", d0.devid, d1.devid);

	uint32_t ioas = ioas_alloc(fd), h0 = 0, h1 = 0;
	CHECK_ERR(vfio_attach(dev0, ioas, &h0), 0);
	CHECK_ERR(vfio_attach(dev1, ioas, &h1), 0);
	CHECK(h0 && h0 == h1, "both use the IOAS's one automatic HWPT (%u, %u)", h0, h1);

	uint8_t *a = buffer(PAGE), *b = buffer(PAGE);
	CHECK_ERR(map_at(fd, ioas, a, PAGE, A, MAP_RW), 0);
	CHECK_ERR(map_at(fd, ioas, b, PAGE, B, MAP_RW), 0);
	CHECK(dma_fill(&d0, A, PAGE, 0xa5a5a5a55a5a5a5aull) == DMA_STATUS_DONE, "vfio0 fills A");
	CHECK(dma_copy(&d1, A, B, PAGE) == DMA_STATUS_DONE, "vfio1 copies A to B");
	CHECK(!memcmp(a, b, PAGE) && a[0] == 0x5a && a[4] == 0xa5, "B holds what vfio0 wrote, byte for byte");
	CHECK(reg_read(&d0, DMA_REG_COMPLETED) == 1 && reg_read(&d1, DMA_REG_COMPLETED) == 1,
	      "each device counts only its own operations");

	CHECK_ERR(ioas_unmap(fd, ioas, B, PAGE, NULL), 0);
	CHECK(dma_copy(&d0, A, B, 64) == DMA_STATUS_FAULT, "after the unmap vfio0 faults on B");
	CHECK(dma_copy(&d1, A, B, 64) == DMA_STATUS_FAULT, "and so does vfio1");
	CHECK_ERR(map_at(fd, ioas, b, PAGE, B, MAP_RW), 0);

	CHECK_ERR(vfio_detach(dev0), 0);
	CHECK(dma_copy(&d0, A, B, 64) == DMA_STATUS_FAULT &&
		      reg_read(&d0, DMA_REG_FAULT_REASON) == DMA_FAULT_BLOCKED,
	      "detached vfio0 is blocked");
	memset(b, 0, PAGE);
	CHECK(dma_copy(&d1, A, B, PAGE) == DMA_STATUS_DONE && !memcmp(a, b, PAGE), "vfio1 still works");
	CHECK_ERR(destroy(fd, h1), EBUSY);
	CHECK_ERR(vfio_detach(dev1), 0);
	CHECK_ERR(destroy(fd, ioas), 0);

	close(dev0);
	close(dev1);
	close(fd);
	return check_done("vfio_two_devices");
}
