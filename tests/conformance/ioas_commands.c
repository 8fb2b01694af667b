/* ioas_commands.c - every IOAS command's success path and its main errnos. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "check.h"
#include "iommufd_helpers.h"

#define PAGE 4096UL

static void test_alloc_destroy(int fd)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, &a), 0);
	CHECK(a.out_ioas_id != 0, "IOAS_ALLOC returns a non-zero id (%u)", a.out_ioas_id);
	struct iommu_ioas_alloc bad = { .size = sizeof(bad), .flags = 1 };
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOC, &bad), EOPNOTSUPP);
	CHECK_ERR(destroy(fd, a.out_ioas_id), 0);
	CHECK_ERR(destroy(fd, a.out_ioas_id), ENOENT);
	CHECK_ERR(destroy(fd, 0xdead), ENOENT);
}

static void test_iova_ranges(int fd, uint32_t ioas)
{
	struct iommu_iova_range r[4];
	uint32_t num = 0;
	uint64_t align = 0;
	CHECK_ERR(iova_ranges(fd, ioas, r, 4, &num, &align), 0);
	CHECK(num == 1 && r[0].start == 0 && r[0].last == UINT64_MAX,
	      "a fresh IOAS has one usable range [0, 2^64-1] (num=%u)", num);
	CHECK(align == 1, "a fresh IOAS reports IOVA alignment 1 (got %lu)", (unsigned long)align);

	num = 0;
	CHECK_ERR(iova_ranges(fd, ioas, NULL, 0, &num, NULL), EMSGSIZE);
	CHECK(num == 1, "EMSGSIZE still reports the needed num_iovas (got %u)", num);

	struct iommu_ioas_iova_ranges rr = { .size = sizeof(rr), .ioas_id = ioas, .reserved = 1 };
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &rr), EOPNOTSUPP);
	CHECK_ERR(iova_ranges(fd, 0xdead, r, 4, NULL, NULL), ENOENT);
	CHECK_ERR(iova_ranges(fd, ioas, (void *)8, 4, NULL, NULL), EFAULT);
}

static void test_map_unmap(int fd, uint32_t ioas, char *buf)
{
	uint64_t iova = 0x100000, unmapped = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf, 4 * PAGE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &iova), 0);
	CHECK(iova == 0x100000, "fixed MAP keeps the IOVA");

	uint64_t again = 0x102000;
	CHECK_ERR(ioas_map(fd, ioas, buf, PAGE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &again), EEXIST);

	uint64_t autov = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf + PAGE, 2 * PAGE, IOMMU_IOAS_MAP_READABLE, &autov), 0);
	CHECK(autov != 0 && (autov + 2 * PAGE <= 0x100000 || autov >= 0x104000),
	      "automatic IOVA 0x%lx is non-zero and free", (unsigned long)autov);

	uint64_t x = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf, PAGE, IOMMU_IOAS_MAP_FIXED_IOVA, &x), EINVAL);
	x = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf, PAGE, MAP_RW | (1u << 3), &x), EOPNOTSUPP);
	x = 0;
	CHECK_ERR(ioas_map(fd, 0xdead, buf, PAGE, MAP_RW, &x), ENOENT);
	x = UINT64_MAX;
	CHECK_ERR(ioas_map(fd, ioas, buf, PAGE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &x), EOVERFLOW);
	x = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf, UINT64_MAX, MAP_RW, &x), EOVERFLOW);
	x = UINT64_MAX - PAGE + 1;
	CHECK_ERR(ioas_map(fd, ioas, buf, 2 * PAGE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &x), EOVERFLOW);
	x = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf, 0, MAP_RW, &x), EINVAL);

	struct iommu_ioas_map m = {
		.size = sizeof(m), .flags = MAP_RW, .ioas_id = ioas, .reserved = 1,
		.user_va = (uintptr_t)buf, .length = PAGE,
	};
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_MAP, &m), EOPNOTSUPP);

	CHECK_ERR(ioas_unmap(fd, ioas, 0x100000, PAGE, NULL), ENOENT); /* areas are never split */
	CHECK_ERR(ioas_unmap(fd, ioas, 0x900000, PAGE, NULL), ENOENT);
	CHECK_ERR(ioas_unmap(fd, ioas, UINT64_MAX, PAGE, NULL), EOVERFLOW);
	CHECK_ERR(ioas_unmap(fd, 0xdead, 0x100000, PAGE, NULL), ENOENT);
	CHECK_ERR(ioas_unmap(fd, ioas, 0x100000, 4 * PAGE, &unmapped), 0);
	CHECK(unmapped == 4 * PAGE, "UNMAP reports the bytes unmapped (0x%lx)", (unsigned long)unmapped);
	CHECK_ERR(ioas_unmap(fd, ioas, 0, UINT64_MAX, &unmapped), 0);
	CHECK(unmapped == 2 * PAGE, "UNMAP of everything takes the automatic mapping (0x%lx)", (unsigned long)unmapped);
	CHECK_ERR(ioas_unmap(fd, ioas, 0, UINT64_MAX, &unmapped), 0);
	CHECK(unmapped == 0, "UNMAP of everything on an empty IOAS succeeds with 0");
}

static void test_copy(int fd, uint32_t src, char *buf)
{
	uint32_t dst = ioas_alloc(fd);
	uint64_t iova = 0x200000;
	CHECK_ERR(ioas_map(fd, src, buf, 8 * PAGE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &iova), 0);

	struct iommu_ioas_copy c = {
		.size = sizeof(c), .flags = MAP_RW, .dst_ioas_id = dst, .src_ioas_id = src,
		.length = 2 * PAGE, .src_iova = 0x202000,
	};
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &c), 0);
	CHECK(c.dst_iova != 0, "COPY with an automatic IOVA returns it (0x%lx)", (unsigned long)c.dst_iova);

	struct iommu_ioas_copy f = c;
	f.flags |= IOMMU_IOAS_MAP_FIXED_IOVA;
	f.dst_iova = 0x700000;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &f), 0);
	CHECK(f.dst_iova == 0x700000, "fixed COPY keeps the IOVA");
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &f), EEXIST);

	struct iommu_ioas_copy e = c;
	e.src_iova = 0x900000;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &e), ENOENT);
	e = c;
	e.src_ioas_id = 0xdead;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &e), ENOENT);
	e = c;
	e.dst_ioas_id = 0xdead;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &e), ENOENT);
	e = c;
	e.flags = 0;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &e), EINVAL);
	e = c;
	e.flags |= 1u << 5;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &e), EOPNOTSUPP);
	e = c;
	e.length = UINT64_MAX;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_COPY, &e), EOVERFLOW);

	/* The copy shares pages, not the mapping: unmapping the source leaves it. */
	CHECK_ERR(ioas_unmap(fd, src, 0x200000, 8 * PAGE, NULL), 0);
	CHECK_ERR(ioas_unmap(fd, dst, 0x700000, 2 * PAGE, NULL), 0);
	CHECK_ERR(destroy(fd, dst), 0);
}

static void test_allow_iovas(int fd, uint32_t ioas, char *buf)
{
	struct iommu_iova_range allowed[2] = { { 0x10000000, 0x1fffffff }, { 0x40000000, 0x4fffffff } };
	struct iommu_ioas_allow_iovas a = {
		.size = sizeof(a), .ioas_id = ioas, .num_iovas = 2, .allowed_iovas = (uintptr_t)allowed,
	};
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a), 0);
	uint64_t iova = 0;
	CHECK_ERR(ioas_map(fd, ioas, buf, 4 * PAGE, MAP_RW, &iova), 0);
	CHECK(iova >= 0x10000000 && iova + 4 * PAGE - 1 <= 0x1fffffff,
	      "automatic IOVA 0x%lx lies in the allowed ranges", (unsigned long)iova);
	CHECK_ERR(ioas_unmap(fd, ioas, iova, 4 * PAGE, NULL), 0);

	struct iommu_iova_range overlap[2] = { { 0x1000, 0x5fff }, { 0x5000, 0x8fff } };
	a.allowed_iovas = (uintptr_t)overlap;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a), EINVAL);
	struct iommu_iova_range empty = { 0x5000, 0x5000 };
	a.num_iovas = 1;
	a.allowed_iovas = (uintptr_t)&empty;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a), EINVAL);
	a.allowed_iovas = 8;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a), EFAULT);
	a.allowed_iovas = (uintptr_t)allowed;
	a.reserved = 1;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a), EOPNOTSUPP);
	a.reserved = 0;
	a.ioas_id = 0xdead;
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &a), ENOENT);

	struct iommu_ioas_allow_iovas clear = { .size = sizeof(clear), .ioas_id = ioas };
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_ALLOW_IOVAS, &clear), 0);
}

static void test_option(int fd, uint32_t ioas)
{
	struct iommu_option o = { .size = sizeof(o), .option_id = IOMMU_OPTION_RLIMIT_MODE,
				  .op = IOMMU_OPTION_OP_GET, .val64 = 77 };
	CHECK_ERR(ioctl(fd, IOMMU_OPTION, &o), 0);
	CHECK(o.val64 == 0, "RLIMIT_MODE defaults to user accounting (0)");
	struct iommu_option h = { .size = sizeof(h), .option_id = IOMMU_OPTION_HUGE_PAGES,
				  .op = IOMMU_OPTION_OP_GET, .object_id = ioas };
	CHECK_ERR(ioctl(fd, IOMMU_OPTION, &h), 0);
	CHECK(h.val64 == 1, "HUGE_PAGES defaults to enabled (1)");
	h.object_id = 0xdead;
	CHECK_ERR(ioctl(fd, IOMMU_OPTION, &h), ENOENT);
	struct iommu_option u = { .size = sizeof(u), .option_id = 99, .op = IOMMU_OPTION_OP_GET };
	CHECK_ERR(ioctl(fd, IOMMU_OPTION, &u), EOPNOTSUPP);
	o.reserved = 1;
	CHECK_ERR(ioctl(fd, IOMMU_OPTION, &o), EOPNOTSUPP);
}

int main(void)
{
	int fd = open_iommufd();
	char *buf = mmap(NULL, 16 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return 2;
	test_alloc_destroy(fd);
	uint32_t ioas = ioas_alloc(fd);
	CHECK(ioas != 0, "IOAS for the remaining tests: %u", ioas);
	test_iova_ranges(fd, ioas);
	test_map_unmap(fd, ioas, buf);
	test_copy(fd, ioas, buf);
	test_allow_iovas(fd, ioas, buf);
	test_option(fd, ioas);
	CHECK_ERR(destroy(fd, ioas), 0);
	close(fd);
	return check_done("ioas_commands");
}
