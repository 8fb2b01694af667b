/* vfio_replace.c - attaching an attached device again replaces its page table with no window
 * in between: a thread keeps the device copying while the main thread swaps it between two
 * HWPTs and the IOAS itself, and not one copy may fault. Then a replace onto another IOAS's HWPT
 * really switches what the device sees. Run as `vfio_replace PRESET`. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include "vfio_helpers.h"

#define PAGE 4096
#define SRC 0x100000ull
#define DST 0x200000ull
#define SWAPS 201 /* ends on h1 */

static atomic_bool stop;
static atomic_int copies, faults, timeouts;

static void *copier(void *arg)
{
	const struct vdev *d = arg;
	while (!atomic_load(&stop)) {
		uint64_t s = dma_copy(d, SRC, DST, PAGE);
		if (s == DMA_STATUS_DONE)
			atomic_fetch_add(&copies, 1);
		else if (s == DMA_STATUS_FAULT)
			atomic_fetch_add(&faults, 1);
		else
			atomic_fetch_add(&timeouts, 1);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const struct preset *p = preset_of(argc, argv);
	int dev = open_vfio0_or_skip("vfio_replace", p);
	int fd = open_iommufd();
	struct vdev d;
	CHECK_ERR(vdev_setup(&d, dev, fd), 0);

	uint8_t *src = buffer(PAGE), *dst = buffer(PAGE), *other = buffer(PAGE);
	memset(src, 0x11, PAGE);
	memset(other, 0x22, PAGE);
	uint32_t ioas = ioas_alloc(fd), h1 = 0, h2 = 0, got = 0;
	CHECK_ERR(map_at(fd, ioas, src, PAGE, SRC, MAP_RW), 0);
	CHECK_ERR(map_at(fd, ioas, dst, PAGE, DST, MAP_RW), 0);
	CHECK_ERR(hwpt_alloc(fd, d.devid, ioas, 0, &h1), 0);
	CHECK_ERR(hwpt_alloc(fd, d.devid, ioas, 0, &h2), 0);
	CHECK_ERR(vfio_attach(dev, h1, &got), 0);

	pthread_t t;
	pthread_create(&t, NULL, copier, &d);
	int bad = 0;
	for (int i = 0; i < SWAPS; i++) {
		uint32_t target = i % 3 == 0 ? h2 : i % 3 == 1 ? ioas : h1;
		bad += vfio_attach(dev, target, &got) != 0;
		sched_yield();
	}
	atomic_store(&stop, true);
	pthread_join(t, NULL);
	CHECK(bad == 0, "%d replaces among two HWPTs and the IOAS succeeded (%d failed)", SWAPS, bad);
	CHECK(atomic_load(&copies) > 0 && atomic_load(&faults) == 0 && atomic_load(&timeouts) == 0,
	      "copies during the replaces: %d done, %d faulted, %d timed out", atomic_load(&copies),
	      atomic_load(&faults), atomic_load(&timeouts));
	CHECK(got == h1, "the last replace left HWPT %u attached (got %u)", h1, got);
	CHECK_ERR(destroy(fd, h2), 0); /* no longer in use */

	/* Another IOAS maps other bytes at the same IOVA: after the replace the device reads them. */
	uint32_t ioas2 = ioas_alloc(fd), h3 = 0;
	CHECK_ERR(map_at(fd, ioas2, other, PAGE, SRC, MAP_RW), 0);
	CHECK_ERR(map_at(fd, ioas2, dst, PAGE, DST, MAP_RW), 0);
	CHECK_ERR(hwpt_alloc(fd, d.devid, ioas2, 0, &h3), 0);
	CHECK_ERR(vfio_attach(dev, h3, NULL), 0);
	CHECK(dma_copy(&d, SRC, DST, PAGE) == DMA_STATUS_DONE && !memcmp(dst, other, PAGE),
	      "after replacing onto the other IOAS the device reads its bytes");
	CHECK_ERR(destroy(fd, h1), 0);
	CHECK_ERR(vfio_attach(dev, ioas, NULL), 0);
	CHECK(dma_copy(&d, SRC, DST, PAGE) == DMA_STATUS_DONE && !memcmp(dst, src, PAGE),
	      "and back on the first IOAS (automatic HWPT) the first bytes");
	CHECK_ERR(destroy(fd, h3), 0);

	close(dev);
	close(fd);
	return check_done("vfio_replace");
}
