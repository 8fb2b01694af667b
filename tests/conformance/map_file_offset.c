/* map_file_offset.c - IOMMU_IOAS_MAP_FILE treats the file as the kernel does:
 * it never moves the program's file offset (another thread reading it sees
 * it stay put; one appending through the fd would lose records), and an automatic IOVA is aligned by the file offset,
 * not by wherever the engine happens to map the file. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check.h"
#include "iommufd_helpers.h"
#include "race_helpers.h"

#define PAGE 4096UL
#define MIB (1024UL * 1024)

static int watched_fd;
static atomic_int watch_stop, offset_moves;

/* Reads the file offset over and over: the kernel's MAP_FILE never changes it. */
static void *watch_offset(void *arg)
{
	(void)arg;
	pin_to_cpu(1);
	while (!atomic_load(&watch_stop))
		if (lseek(watched_fd, 0, SEEK_CUR) != (off_t)PAGE)
			atomic_fetch_add(&offset_moves, 1);
	return NULL;
}

/* Another thread of the program sees the fd's offset stay put while MAP_FILE runs. */
static void offset_untouched(int fd, uint32_t ioas)
{
	int mfd = memfd_create("map_file_offset", 0);
	CHECK(mfd >= 0, "memfd_create");
	CHECK(ftruncate(mfd, 4 * PAGE) == 0, "ftruncate");
	CHECK(lseek(mfd, PAGE, SEEK_SET) == (off_t)PAGE, "offset set to one page");
	watched_fd = mfd;
	pthread_t watcher;
	CHECK(pthread_create(&watcher, NULL, watch_offset, NULL) == 0, "watcher started");
	cpu_set_t before;
	sched_getaffinity(0, sizeof(before), &before);
	pin_to_cpu(0);
	int maps = 0, failures = 0;
	for (double end = now() + 0.5; now() < end;) {
		uint64_t iova = 0;
		if (ioas_map_file(fd, ioas, mfd, 0, PAGE, MAP_RW, &iova) || ioas_unmap(fd, ioas, iova, PAGE, NULL))
			failures++;
		maps++;
	}
	atomic_store(&watch_stop, 1);
	pthread_join(watcher, NULL);
	sched_setaffinity(0, sizeof(before), &before);
	CHECK(failures == 0, "%d of %d MAP_FILE/UNMAP rounds failed", failures, maps);
	CHECK(atomic_load(&offset_moves) == 0, "offset seen moved %d times in %d MAP_FILEs",
	      atomic_load(&offset_moves), maps);
	CHECK(lseek(mfd, 0, SEEK_CUR) == (off_t)PAGE, "offset still one page");
	close(mfd);
}

/* The automatic IOVA keeps the file offset's alignment (up to a huge page). */
static void iova_by_file_offset(int fd)
{
	int mfd = memfd_create("map_file_align", 0);
	CHECK(mfd >= 0, "memfd_create");
	CHECK(ftruncate(mfd, 4 * MIB) == 0, "ftruncate");

	uint32_t ioas = ioas_alloc(fd);
	uint64_t iova = 0;
	CHECK_ERR(ioas_map_file(fd, ioas, mfd, 2 * MIB, 2 * MIB, MAP_RW, &iova), 0);
	CHECK(iova == 2 * MIB, "2 MiB at file offset 2 MiB: IOVA 0x%llx (want 0x200000)", (unsigned long long)iova);
	CHECK_ERR(destroy(fd, ioas), 0);

	ioas = ioas_alloc(fd);
	CHECK_ERR(ioas_map_file(fd, ioas, mfd, 64 * 1024, 64 * 1024, MAP_RW, &iova), 0);
	CHECK(iova == 64 * 1024, "64 KiB at file offset 64 KiB: IOVA 0x%llx (want 0x10000)", (unsigned long long)iova);
	/* A COPY with an automatic IOVA aligns by the source's file offset too. */
	uint32_t dst = ioas_alloc(fd);
	struct iommu_ioas_copy copy = {
		.size = sizeof(copy), .flags = MAP_RW, .dst_ioas_id = dst, .src_ioas_id = ioas,
		.length = 64 * 1024, .src_iova = iova,
	};
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &copy), 0);
	CHECK(copy.dst_iova == 64 * 1024, "COPY of it: IOVA 0x%llx (want 0x10000)", (unsigned long long)copy.dst_iova);
	CHECK_ERR(destroy(fd, dst), 0);
	CHECK_ERR(destroy(fd, ioas), 0);
	close(mfd);
}

int main(void)
{
	int fd = open_iommufd();
	uint32_t ioas = ioas_alloc(fd);
	offset_untouched(fd, ioas);
	iova_by_file_offset(fd);
	CHECK(close(fd) == 0, "close iommufd");
	return check_done("map_file_offset");
}
