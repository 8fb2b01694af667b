/* copy_unmap_race.c - a COPY holds the pages it copies: one thread maps a
 * memfd full of 0xA1 at IOVA I and unmaps it, then maps another memfd (0xB2)
 * elsewhere and unmaps it, over and over; another thread copies [I, +64 KiB)
 * into a second IOAS and reads the copy through an access. Every successful
 * COPY must read 0xA1: in the kernel the COPY's reference keeps the first
 * file's pages, so it can never see the second file (or nothing). Bounded: 1.5 s. */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include "check.h"
#include "iommufd_helpers.h"
#include "selftest_uapi.h"
#include "race_helpers.h"

#define LEN (64 * 1024UL)
#define IOVA_A 0x1000000UL
#define IOVA_B 0x2000000UL


static int fd, f1, f2;
static uint32_t src_ioas, dst_ioas;
static atomic_int stop;
static int mapper_failures, mapper_rounds;

static int map_file_at(int mfd, uint64_t iova)
{
	return ioas_map_file(fd, src_ioas, mfd, 0, LEN, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &iova);
}

static void *map_and_unmap(void *arg)
{
	(void)arg;
	pin_to_cpu(1);
	while (!atomic_load(&stop)) {
		if (map_file_at(f1, IOVA_A) || ioas_unmap(fd, src_ioas, IOVA_A, LEN, NULL))
			mapper_failures++;
		if (map_file_at(f2, IOVA_B) || ioas_unmap(fd, src_ioas, IOVA_B, LEN, NULL))
			mapper_failures++;
		mapper_rounds++;
	}
	return NULL;
}

static int memfd_filled(const char *name, int byte)
{
	int mfd = memfd_create(name, 0);
	CHECK(mfd >= 0 && ftruncate(mfd, LEN) == 0, "memfd %s", name);
	char *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(p != MAP_FAILED, "mmap %s", name);
	memset(p, byte, LEN);
	munmap(p, LEN);
	return mfd;
}

int main(void)
{
	f1 = memfd_filled("copy_race_a1", 0xa1);
	f2 = memfd_filled("copy_race_b2", 0xb2);
	fd = open_iommufd();
	src_ioas = ioas_alloc(fd);
	dst_ioas = ioas_alloc(fd);
	struct iommu_test_cmd ca = { .size = sizeof(ca), .op = TEST_OP_CREATE_ACCESS, .id = dst_ioas };
	CHECK_ERR(ioctl(fd, IOMMU_TEST_CMD, &ca), 0);
	int access = (int)ca.create_access.out_access_fd;

	pin_to_cpu(0);
	pthread_t mapper;
	CHECK(pthread_create(&mapper, NULL, map_and_unmap, NULL) == 0, "mapper started");
	static unsigned char buf[LEN];
	int copies = 0, wrong = 0, read_errors = 0, unmap_errors = 0;
	for (double end = now() + 1.5; now() < end;) {
		struct iommu_ioas_copy copy = {
			.size = sizeof(copy), .flags = MAP_RW, .dst_ioas_id = dst_ioas,
			.src_ioas_id = src_ioas, .length = LEN, .src_iova = IOVA_A,
		};
		if (ioctl(fd, IOMMU_IOAS_COPY, &copy))
			continue; /* the source was not mapped just then */
		copies++;
		memset(buf, 0, sizeof(buf));
		struct iommu_test_cmd rw = { .size = sizeof(rw), .op = TEST_OP_ACCESS_RW, .id = (uint32_t)access };
		rw.access_rw.iova = copy.dst_iova;
		rw.access_rw.length = LEN;
		rw.access_rw.uptr = (uintptr_t)buf;
		if (ioctl(fd, IOMMU_TEST_CMD, &rw))
			read_errors++;
		else
			for (size_t i = 0; i < LEN; i++)
				if (buf[i] != 0xa1) {
					wrong++;
					break;
				}
		if (ioas_unmap(fd, dst_ioas, copy.dst_iova, LEN, NULL))
			unmap_errors++;
	}
	atomic_store(&stop, 1);
	pthread_join(mapper, NULL);

	CHECK(mapper_failures == 0, "mapper: %d of %d rounds failed", mapper_failures, mapper_rounds);
	CHECK(copies > 0, "%d COPYs succeeded", copies);
	CHECK(read_errors == 0, "reading a copy failed %d times of %d", read_errors, copies);
	CHECK(wrong == 0, "a copy read bytes of another file %d times of %d", wrong, copies);
	CHECK(unmap_errors == 0, "unmapping a copy failed %d times", unmap_errors);
	CHECK(close(access) == 0, "close access");
	CHECK(close(fd) == 0, "close iommufd");
	return check_done("copy_unmap_race");
}
