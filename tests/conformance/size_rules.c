/* size_rules.c - the rules every iommufd ioctl shares: the leading size field,
 * zero-extension of short structs, E2BIG for unknown non-zero tails, ENOTTY
 * for unknown commands, EFAULT for unreadable arguments. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "check.h"
#include "iommufd_helpers.h"

struct destroy_plus {
	struct iommu_destroy d;
	uint8_t tail[64];
};

int main(void)
{
	int fd = open_iommufd();
	uint32_t ioas = ioas_alloc(fd);
	CHECK(ioas != 0, "IOAS allocated (%u)", ioas);

	/* Size short by one byte of the last required field. */
	struct iommu_destroy d = { .size = sizeof(d) - 1, .id = 0xdead };
	CHECK_ERR(ioctl(fd, IOMMU_DESTROY, &d), EINVAL);
	struct iommu_ioas_alloc a = { .size = sizeof(a) - 1 };
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, &a), EINVAL);
	struct iommu_ioas_map m = { .size = sizeof(m) - 1 };
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_MAP, &m), EINVAL);
	struct iommu_ioas_unmap u = { .size = sizeof(u) - 1 };
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_UNMAP, &u), EINVAL);
	struct iommu_option o = { .size = sizeof(o) - 1 };
	CHECK_ERR(ioctl(fd, IOMMU_OPTION, &o), EINVAL);
	struct iommu_destroy zero = { .size = 0, .id = 0xdead };
	CHECK_ERR(ioctl(fd, IOMMU_DESTROY, &zero), EINVAL);

	/* A larger struct: zero tail accepted, any non-zero byte is E2BIG. */
	struct destroy_plus p;
	memset(&p, 0, sizeof(p));
	p.d.size = sizeof(p);
	p.d.id = 0xdead;
	CHECK_ERR(ioctl(fd, IOMMU_DESTROY, &p), ENOENT);
	p.tail[63] = 1;
	CHECK_ERR(ioctl(fd, IOMMU_DESTROY, &p), E2BIG);
	p.tail[63] = 0;
	p.d.id = ioas;
	CHECK_ERR(ioctl(fd, IOMMU_DESTROY, &p), 0);

	/* A larger IOAS_ALLOC gets its id written back, nothing past its own size. */
	struct { struct iommu_ioas_alloc a; uint32_t tail[4]; } big;
	memset(&big, 0, sizeof(big));
	big.a.size = sizeof(big);
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, &big), 0);
	CHECK(big.a.out_ioas_id != 0 && big.tail[0] == 0 && big.tail[3] == 0,
	      "a larger IOAS_ALLOC struct gets the id and an untouched tail");

	/* Huge size with a readable zero tail up to a guard page: E2BIG/EFAULT, not a crash. */
	char *two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(two + 4096, 4096);
	struct iommu_destroy *edge = (void *)(two + 4096 - 64);
	memset(edge, 0, 64);
	edge->size = 4096;
	edge->id = 0xdead;
	CHECK_ERR(ioctl(fd, IOMMU_DESTROY, edge), EFAULT);

	/* Unknown commands. */
	CHECK_ERR(ioctl(fd, IOMMU_CMD(0xff), &p), ENOTTY);
	CHECK_ERR(ioctl(fd, _IOW(IOMMUFD_TYPE, 0x80, uint32_t), &p), ENOTTY);
	CHECK_ERR(ioctl(fd, _IO('x', 0x80), &p), ENOTTY);

	/* Unreadable argument pointers. */
	CHECK_ERR(ioctl(fd, IOMMU_DESTROY, (void *)8), EFAULT);
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, NULL), EFAULT);
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_MAP, two + 4096), EFAULT);
	/* Readable but not writable: the id cannot be copied out, so nothing is created. */
	struct iommu_ioas_alloc *ro = (void *)two;
	memset(ro, 0, sizeof(*ro));
	ro->size = sizeof(*ro);
	mprotect(two, 4096, PROT_READ);
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, ro), EFAULT);
	mprotect(two, 4096, PROT_READ | PROT_WRITE);
	uint32_t next = ioas_alloc(fd);
	CHECK(next == big.a.out_ioas_id + 1, "the failed IOAS_ALLOC left no id behind (next id %u)", next);

	close(fd);
	return check_done("size_rules");
}
