/* vfio_faults.c - DMA that the IOMMU or the device refuses: an unmapped IOVA, a write to a
 * read-only mapping, bus mastering off, after an unmap, after a detach. Each ends with STATUS
 * fault, the right FAULT_REASON and FAULT_IOVA, the bytes before the faulting page moved and
 * none after, COMPLETED counting it and MSI-X vector 0 firing. Run as `vfio_faults PRESET`. */
#define _GNU_SOURCE
#include "vfio_helpers.h"

#define PAGE 4096
#define SRC 0x100000ull   /* 4 pages, read/write */
#define DST 0x200000ull   /* 2 pages, read/write; the page after is unmapped */
#define RO 0x300000ull    /* 1 page, read-only for the device */
#define HOLE 0x4000000ull /* never mapped */

static int efd;

/* The fault registers after an operation (iova ~0: not checked); the eventfd must have fired
 * for it, except with bus mastering off, where a real function cannot send its MSI-X message
 * either (the eventfd is drained then, whichever way the model went). */
static void check_fault(const struct vdev *d, uint64_t status, uint64_t reason, uint64_t iova, const char *what)
{
	CHECK(status == DMA_STATUS_FAULT, "%s: status %llu (want fault)", what, (unsigned long long)status);
	uint64_t r = reg_read(d, DMA_REG_FAULT_REASON), at = reg_read(d, DMA_REG_FAULT_IOVA);
	CHECK(r == reason, "%s: reason %llu (want %llu)", what, (unsigned long long)r, (unsigned long long)reason);
	if (iova != ~0ull)
		CHECK(at == iova, "%s: fault IOVA 0x%llx (want 0x%llx)", what, (unsigned long long)at,
		      (unsigned long long)iova);
	if (reason == DMA_FAULT_BUS_MASTER_OFF)
		eventfd_fired(efd, 50);
	else
		CHECK(eventfd_fired(efd, 2000), "%s: MSI-X vector 0 fired", what);
}

int main(int argc, char **argv)
{
	const struct preset *p = preset_of(argc, argv);
	int dev = open_vfio0_or_skip("vfio_faults", p);
	int fd = open_iommufd();
	struct vdev d;
	CHECK_ERR(vdev_setup(&d, dev, fd), 0);
	uint32_t ioas = ioas_alloc(fd);
	CHECK_ERR(vfio_attach(dev, ioas, NULL), 0);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	int32_t fds[1] = { efd };
	CHECK_ERR(set_msix_eventfds(dev, 0, 1, fds), 0);

	uint8_t *src = buffer(4 * PAGE), *dst = buffer(2 * PAGE), *ro = buffer(PAGE);
	for (int i = 0; i < 4 * PAGE; i++)
		src[i] = (uint8_t)(i ^ (i >> 8));
	CHECK_ERR(map_at(fd, ioas, src, 4 * PAGE, SRC, MAP_RW), 0);
	CHECK_ERR(map_at(fd, ioas, dst, 2 * PAGE, DST, MAP_RW), 0);
	CHECK_ERR(map_at(fd, ioas, ro, PAGE, RO, IOMMU_IOAS_MAP_READABLE), 0);
	uint64_t completed = reg_read(&d, DMA_REG_COMPLETED);

	check_fault(&d, dma_copy(&d, HOLE, DST, 64), DMA_FAULT_NOT_MAPPED, HOLE, "read from an unmapped IOVA");
	check_fault(&d, dma_copy(&d, SRC, HOLE + 8, 64), DMA_FAULT_NOT_MAPPED, HOLE + 8, "write to an unmapped IOVA");

	memset(ro, 0x5a, PAGE);
	check_fault(&d, dma_copy(&d, SRC, RO, 64), DMA_FAULT_PERMISSION, RO, "write to a read-only mapping");
	bool untouched = true;
	for (int i = 0; i < PAGE; i++)
		untouched &= ro[i] == 0x5a;
	CHECK(untouched, "the read-only page kept its bytes");
	CHECK(dma_copy(&d, RO, DST, 64) == DMA_STATUS_DONE, "reading the read-only mapping works");
	CHECK(eventfd_fired(efd, 2000), "and fires the eventfd");

	/* Hardware moves what it can: the two mapped pages arrive, the third faults. */
	memset(dst, 0, 2 * PAGE);
	check_fault(&d, dma_copy(&d, SRC, DST, 3 * PAGE), DMA_FAULT_NOT_MAPPED, DST + 2 * PAGE,
		    "copy running off the end of a mapping");
	CHECK(!memcmp(dst, src, 2 * PAGE), "the bytes before the faulting page were transferred");

	set_bus_master(&d, false);
	memset(dst, 0, 2 * PAGE);
	check_fault(&d, dma_copy(&d, SRC, DST, 64), DMA_FAULT_BUS_MASTER_OFF, ~0ull, "bus master off");
	CHECK(dst[0] == 0 && dst[63] == 0, "nothing moved with bus master off");
	set_bus_master(&d, true);
	CHECK(dma_copy(&d, SRC, DST, 64) == DMA_STATUS_DONE && !memcmp(dst, src, 64), "bus master on again: copy works");
	CHECK(eventfd_fired(efd, 2000), "and fires the eventfd");

	CHECK_ERR(ioas_unmap(fd, ioas, DST, 2 * PAGE, NULL), 0);
	check_fault(&d, dma_copy(&d, SRC, DST, 64), DMA_FAULT_NOT_MAPPED, DST, "write after unmap");
	CHECK_ERR(map_at(fd, ioas, dst, 2 * PAGE, DST, MAP_RW), 0);
	CHECK(dma_copy(&d, SRC, DST, 64) == DMA_STATUS_DONE, "mapped again: copy works");
	CHECK(eventfd_fired(efd, 2000), "and fires the eventfd");

	CHECK_ERR(vfio_detach(dev), 0);
	memset(dst, 0, 64);
	check_fault(&d, dma_copy(&d, SRC, DST, 64), DMA_FAULT_BLOCKED, ~0ull, "DMA after detach");
	CHECK(dst[0] == 0, "nothing moved while detached");
	CHECK(reg_read(&d, DMA_REG_COMPLETED) == completed + 10, "COMPLETED counts the faulted operations too (%llu)",
	      (unsigned long long)(reg_read(&d, DMA_REG_COMPLETED) - completed));

	close(efd);
	close(dev);
	close(fd);
	return check_done("vfio_faults");
}
