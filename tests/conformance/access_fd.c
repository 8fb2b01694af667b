/* access_fd.c - the self-test's access fd (IOMMU_TEST_CMD CREATE_ACCESS) is a
 * real file descriptor: fcntl works on it, test ops name it, close() closes
 * it once (then EBADF, and ops on the number EBADFD), and like the kernel's it
 * keeps its iommufd context alive after the iommufd fd itself is closed. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "check.h"
#include "iommufd_helpers.h"
#include "selftest_uapi.h"

#define PAGE 4096UL


static int create_access(int fd, uint32_t ioas, int *access)
{
	struct iommu_test_cmd c = { .size = sizeof(c), .op = TEST_OP_CREATE_ACCESS, .id = ioas };
	int rc = ioctl(fd, IOMMU_TEST_CMD, &c);
	*access = rc ? -1 : (int)c.create_access.out_access_fd;
	return rc;
}

static int access_rw(int fd, int access, uint64_t iova, void *buf, uint64_t len, uint32_t flags)
{
	struct iommu_test_cmd c = { .size = sizeof(c), .op = TEST_OP_ACCESS_RW, .id = (uint32_t)access };
	c.access_rw.iova = iova;
	c.access_rw.length = len;
	c.access_rw.uptr = (uintptr_t)buf;
	c.access_rw.flags = flags;
	return ioctl(fd, IOMMU_TEST_CMD, &c);
}

int main(void)
{
	char *buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char out[16] = { 0 };
	if (buf == MAP_FAILED)
		return 2;
	memcpy(buf + 64, "hello, access", 14);

	/* An access fd used and closed while its iommufd stays open. */
	int fd = open_iommufd();
	uint32_t ioas = ioas_alloc(fd);
	uint64_t iova = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf, PAGE, MAP_RW, &iova), 0);
	int access;
	CHECK_ERR(create_access(fd, ioas, &access), 0);
	CHECK(access >= 0 && access != fd, "CREATE_ACCESS gives a new fd (%d)", access);
	int fdflags = fcntl(access, F_GETFD);
	CHECK(fdflags >= 0 && (fdflags & FD_CLOEXEC), "fcntl(F_GETFD) on it works, close-on-exec (%d)", fdflags);
	CHECK_ERR(access_rw(fd, access, iova + 64, out, 14, 0), 0);
	CHECK(!memcmp(out, "hello, access", 14), "ACCESS_RW reads what is mapped (\"%.13s\")", out);
	CHECK_ERR(access_rw(fd, access, iova + 128, "written", 8, ACCESS_RW_WRITE), 0);
	CHECK(!memcmp(buf + 128, "written", 8), "ACCESS_RW writes through to the mapped buffer");
	CHECK_ERR(access_rw(fd, fd, iova + 64, out, 14, 0), EBADFD); /* the iommufd is no access fd */
	CHECK_ERR(close(access), 0);
	CHECK_ERR(close(access), EBADF);
	CHECK_ERR(access_rw(fd, access, iova + 64, out, 14, 0), EBADFD);
	CHECK_ERR(destroy(fd, ioas), 0); /* the closed access no longer holds the IOAS */

	/* The access fd outlives the iommufd fd it was created from. */
	ioas = ioas_alloc(fd);
	iova = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf, PAGE, MAP_RW, &iova), 0);
	CHECK_ERR(create_access(fd, ioas, &access), 0);
	int other = open_iommufd();
	CHECK_ERR(close(fd), 0);
	memset(out, 0, sizeof(out));
	CHECK_ERR(access_rw(other, access, iova + 64, out, 14, 0), 0);
	CHECK(!memcmp(out, "hello, access", 14), "after closing the iommufd, its access still reads (\"%.13s\")", out);
	int copy = dup(access);
	CHECK(copy >= 0, "dup of the access fd (%d)", copy);
	CHECK_ERR(close(access), 0);
	CHECK_ERR(access_rw(other, copy, iova + 64, out, 14, 0), 0); /* the dup keeps it open */
	CHECK_ERR(close(copy), 0);
	CHECK_ERR(access_rw(other, copy, iova + 64, out, 14, 0), EBADFD);
	CHECK_ERR(close(other), 0);
	return check_done("access_fd");
}
