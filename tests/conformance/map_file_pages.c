/* map_file_pages.c - IOMMU_IOAS_MAP_FILE of a memfd the program has also
 * mapped itself: the self-test's page checks (MD_CHECK_MAP, MD_CHECK_REFS,
 * ACCESS_PAGES with uptr) compare pages, not addresses, so the program's own
 * mapping of the file must be the same pages the engine pinned. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <unistd.h>
#include "check.h"
#include "iommufd_helpers.h"
#include "selftest_uapi.h"

#define PAGE 4096UL
#define FILE_PAGES 8
#define IOMMU_IOAS_CHANGE_PROCESS IOMMU_CMD(0x92)
#define ACCESS_NEEDS_PIN_PAGES 1


static int test_cmd(int fd, struct iommu_test_cmd *c)
{
	c->size = sizeof(*c);
	return ioctl(fd, IOMMU_TEST_CMD, c);
}

static int check_map(int fd, uint32_t hwpt, uint64_t iova, uint64_t len, void *uptr)
{
	struct iommu_test_cmd c = { .op = TEST_OP_MD_CHECK_MAP, .id = hwpt };
	c.check_map.iova = iova;
	c.check_map.length = len;
	c.check_map.uptr = (uintptr_t)uptr;
	return test_cmd(fd, &c);
}

static int check_refs(int fd, void *uptr, uint64_t len, uint32_t refs)
{
	struct iommu_test_cmd c = { .op = TEST_OP_MD_CHECK_REFS };
	c.check_refs.length = len;
	c.check_refs.uptr = (uintptr_t)uptr;
	c.check_refs.refs = refs;
	return test_cmd(fd, &c);
}

static int access_pages(int fd, int access, uint64_t iova, uint64_t len, void *uptr)
{
	struct iommu_test_cmd c = { .op = TEST_OP_ACCESS_PAGES, .id = (uint32_t)access };
	c.access_pages.iova = iova;
	c.access_pages.length = len;
	c.access_pages.uptr = (uintptr_t)uptr;
	return test_cmd(fd, &c);
}

int main(void)
{
	int mfd = memfd_create("map_file_pages", 0);
	CHECK(mfd >= 0, "memfd_create");
	CHECK(ftruncate(mfd, FILE_PAGES * PAGE) == 0, "ftruncate");
	char *buf = mmap(NULL, FILE_PAGES * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	CHECK(buf != MAP_FAILED, "mmap memfd");

	int fd = open_iommufd();
	uint32_t ioas = ioas_alloc(fd);
	struct iommu_test_cmd md = { .op = TEST_OP_MOCK_DOMAIN, .id = ioas };
	CHECK_ERR(test_cmd(fd, &md), 0);
	uint32_t hwpt = md.mock_domain.out_hwpt_id;

	CHECK_ERR(check_refs(fd, buf, FILE_PAGES * PAGE, 0), 0);
	uint64_t iova = 0;
	CHECK_ERR(ioas_map_file(fd, ioas, mfd, 2 * PAGE, 3 * PAGE, MAP_RW, &iova), 0);

	/* Only file mappings can move to another process; a plain MAP refuses it. */
	struct { uint32_t size, reserved; } change = { sizeof(change), 0 };
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &change), 0);
	static char plain[PAGE] __attribute__((aligned(PAGE)));
	uint64_t plain_iova = 0;
	CHECK_ERR(ioas_map(fd, ioas, plain, PAGE, MAP_RW, &plain_iova), 0);
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &change), EINVAL);
	CHECK_ERR(ioas_unmap(fd, ioas, plain_iova, PAGE, NULL), 0);

	/* The domain maps file pages 2..4, which the program sees at buf + 2 pages. */
	CHECK_ERR(check_map(fd, hwpt, iova, 3 * PAGE, buf + 2 * PAGE), 0);
	CHECK_ERR(check_map(fd, hwpt, iova, 3 * PAGE, buf + 1 * PAGE), EINVAL);
	CHECK_ERR(check_map(fd, hwpt, iova + PAGE, PAGE, buf + 3 * PAGE), 0);

	/* Pinned once each, seen through the program's mapping. */
	CHECK_ERR(check_refs(fd, buf + 2 * PAGE, 3 * PAGE, 1), 0);
	CHECK_ERR(check_refs(fd, buf, 2 * PAGE, 0), 0);
	CHECK_ERR(check_refs(fd, buf + 5 * PAGE, 3 * PAGE, 0), 0);
	CHECK_ERR(check_refs(fd, buf, FILE_PAGES * PAGE, 1), EIO);

	/* An access pinning the area: uptr names the pages through the program's mapping. */
	struct iommu_test_cmd ca = { .op = TEST_OP_CREATE_ACCESS, .id = ioas };
	ca.create_access.flags = ACCESS_NEEDS_PIN_PAGES;
	CHECK_ERR(test_cmd(fd, &ca), 0);
	int access = (int)ca.create_access.out_access_fd;
	CHECK_ERR(access_pages(fd, access, iova, 3 * PAGE, buf + 2 * PAGE), 0);
	CHECK_ERR(access_pages(fd, access, iova, 3 * PAGE, buf + 3 * PAGE), EBADE);
	/* One page pins once, however many users. */
	CHECK_ERR(check_refs(fd, buf + 2 * PAGE, 3 * PAGE, 1), 0);
	CHECK(close(access) == 0, "close access");

	/* A second MAP_FILE of an overlapping range pins those pages again. */
	uint64_t iova2 = 0;
	CHECK_ERR(ioas_map_file(fd, ioas, mfd, 4 * PAGE, 2 * PAGE, MAP_RW, &iova2), 0);
	CHECK_ERR(check_refs(fd, buf + 4 * PAGE, PAGE, 2), 0);
	CHECK_ERR(check_refs(fd, buf + 5 * PAGE, PAGE, 1), 0);
	CHECK_ERR(check_map(fd, hwpt, iova2, PAGE, buf + 4 * PAGE), 0);

	CHECK_ERR(ioas_unmap(fd, ioas, 0, UINT64_MAX, NULL), 0);
	CHECK_ERR(check_refs(fd, buf, FILE_PAGES * PAGE, 0), 0);
	CHECK(close(fd) == 0, "close iommufd");
	munmap(buf, FILE_PAGES * PAGE);
	close(mfd);
	return check_done("map_file_pages");
}
