/* real_memory.c - MAP of memory a real program has: malloc'd (unaligned),
 * anonymous mmap'd, file-backed and stack buffers. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include "check.h"
#include "iommufd_helpers.h"

#define PAGE 4096UL
#define MIB (1024UL * 1024)

int main(void)
{
	int fd = open_iommufd();
	uint32_t ioas = ioas_alloc(fd);
	CHECK(ioas != 0, "IOAS allocated (%u)", ioas);

	/* malloc'd, not page aligned: the automatic IOVA keeps the page offset. */
	char *heap = malloc(10000);
	memset(heap, 0x5a, 10000);
	char *odd = heap + 1;
	uint64_t iova = 0;
	CHECK_ERR(ioas_map(fd, ioas, odd, 5000, MAP_RW, &iova), 0);
	CHECK(iova % PAGE == (uintptr_t)odd % PAGE,
	      "IOVA 0x%lx has the page offset of the malloc'd address %p", (unsigned long)iova, (void *)odd);
	uint64_t unmapped = 0;
	CHECK_ERR(ioas_unmap(fd, ioas, iova, 5000, &unmapped), 0);
	CHECK(unmapped == 5000, "unmapped the 5000 bytes exactly");

	/* Anonymous mmap, 2 MiB aligned: the automatic IOVA keeps the 2 MiB alignment. */
	char *raw = mmap(NULL, 4 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *huge = (char *)(((uintptr_t)raw + 2 * MIB - 1) & ~(2 * MIB - 1));
	memset(huge, 1, 2 * MIB);
	iova = 0;
	CHECK_ERR(ioas_map(fd, ioas, huge, 2 * MIB, MAP_RW, &iova), 0);
	CHECK(iova != 0 && iova % (2 * MIB) == 0, "2 MiB mapping got a 2 MiB aligned IOVA 0x%lx", (unsigned long)iova);
	uint64_t fixed = 0x40000000;
	CHECK_ERR(ioas_map(fd, ioas, raw, 4 * MIB, IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_FIXED_IOVA, &fixed), 0);

	/* The same pages may be mapped many times, in one IOAS or several. */
	uint32_t other = ioas_alloc(fd);
	uint64_t again = 0x40000000;
	CHECK_ERR(ioas_map(fd, other, raw, 4 * MIB, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &again), 0);

	/* File-backed shared mapping. */
	FILE *tmp = tmpfile();
	int tfd = fileno(tmp);
	CHECK_ERR(ftruncate(tfd, 8 * PAGE), 0);
	char *file = mmap(NULL, 8 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, tfd, 0);
	CHECK(file != MAP_FAILED, "file mapped");
	iova = 0;
	CHECK_ERR(ioas_map(fd, ioas, file, 8 * PAGE, MAP_RW, &iova), 0);

	/* Stack memory. */
	char stack[3 * PAGE];
	memset(stack, 2, sizeof(stack));
	iova = 0;
	CHECK_ERR(ioas_map(fd, ioas, stack, sizeof(stack), IOMMU_IOAS_MAP_READABLE, &iova), 0);

	/* Tear down: everything goes at once; the memory stays the program's. */
	CHECK_ERR(ioas_unmap(fd, ioas, 0, UINT64_MAX, &unmapped), 0);
	CHECK(unmapped == 2 * MIB + 4 * MIB + 8 * PAGE + sizeof(stack),
	      "UNMAP of everything reports 0x%lx bytes", (unsigned long)unmapped);
	CHECK_ERR(destroy(fd, other), 0);
	CHECK(huge[0] == 1 && file[0] == 0 && stack[5] == 2 && heap[9999] == 0x5a, "user memory untouched");
	munmap(file, 8 * PAGE);
	munmap(raw, 4 * MIB);
	free(heap);
	fclose(tmp);
	close(fd);
	return check_done("real_memory");
}
