/* vfio_unbind.c - closing the device fd unbinds it: its iommufd device object is gone (ENOENT
 * wherever its ID is taken), its attachment and automatic domain are released, the IOAS keeps
 * every mapping; a new open binds afresh. And a bound device holds its iommufd: closing the
 * iommufd fd first leaves the device working. Run as `vfio_unbind PRESET`. */
#define _GNU_SOURCE
#include "vfio_helpers.h"

#define PAGE 4096
#define SRC 0x100000ull
#define DST 0x200000ull

int main(int argc, char **argv)
{
	const struct preset *p = preset_of(argc, argv);
	int dev = open_vfio0_or_skip("vfio_unbind", p);
	int fd = open_iommufd();
	struct vdev d;
	CHECK_ERR(vdev_setup(&d, dev, fd), 0);
	uint32_t ioas = ioas_alloc(fd), hwpt = 0, devid = d.devid;
	CHECK_ERR(vfio_attach(dev, ioas, &hwpt), 0);
	uint8_t *src = buffer(PAGE), *dst = buffer(PAGE);
	memset(src, 0x3c, PAGE);
	CHECK_ERR(map_at(fd, ioas, src, PAGE, SRC, MAP_RW), 0);
	CHECK_ERR(map_at(fd, ioas, dst, PAGE, DST, MAP_RW), 0);
	CHECK(dma_copy(&d, SRC, DST, PAGE) == DMA_STATUS_DONE, "copy while bound");

	CHECK_ERR(close(dev), 0);
	struct iommu_hw_info hi;
	CHECK_ERR(hw_info(fd, devid, &hi, NULL, 0), ENOENT);
	uint32_t h = 0;
	CHECK_ERR(hwpt_alloc(fd, devid, ioas, 0, &h), ENOENT);
	CHECK_ERR(destroy(fd, hwpt), ENOENT); /* the automatic domain died with the attachment */
	uint64_t iova = SRC;
	CHECK_ERR(ioas_map(fd, ioas, src, PAGE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &iova), EEXIST);
	uint64_t unmapped = 0;
	CHECK_ERR(ioas_unmap(fd, ioas, 0, UINT64_MAX, &unmapped), 0);
	CHECK(unmapped == 2 * PAGE, "the IOAS kept both mappings (%llu bytes unmapped)", (unsigned long long)unmapped);
	CHECK_ERR(destroy(fd, ioas), 0);

	/* A new open binds afresh. */
	dev = open_vfio(0);
	CHECK(dev >= 0, "vfio0 opens again");
	CHECK_ERR(vdev_setup(&d, dev, fd), 0);
	CHECK(d.devid != 0, "bound again with device ID %u", d.devid);
	CHECK_ERR(hw_info(fd, d.devid, &hi, NULL, 0), 0);
	struct vfio_device_info info = { .argsz = sizeof(info) };
	CHECK_ERR(ioctl(dev, VFIO_DEVICE_GET_INFO, &info), 0);
	if (info.flags & VFIO_DEVICE_FLAGS_RESET) /* vfio-pci resets a function it can reset on open */
		CHECK(reg_read(&d, DMA_REG_COMPLETED) == 0, "the new open starts from a reset device");

	/* The bound device keeps its iommufd alive. */
	ioas = ioas_alloc(fd);
	CHECK_ERR(map_at(fd, ioas, src, PAGE, SRC, MAP_RW), 0);
	CHECK_ERR(map_at(fd, ioas, dst, PAGE, DST, MAP_RW), 0);
	CHECK_ERR(vfio_attach(dev, ioas, NULL), 0);
	CHECK_ERR(close(fd), 0);
	memset(dst, 0, PAGE);
	CHECK(dma_copy(&d, SRC, DST, PAGE) == DMA_STATUS_DONE && !memcmp(src, dst, PAGE),
	      "after closing the iommufd fd the device still does DMA through its IOAS");
	CHECK_ERR(close(dev), 0);
	return check_done("vfio_unbind");
}
