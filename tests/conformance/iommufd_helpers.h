/* iommufd_helpers.h - one-line wrappers for the commands the programs repeat. */
#ifndef CONFORMANCE_IOMMUFD_HELPERS_H
#define CONFORMANCE_IOMMUFD_HELPERS_H

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "iommufd_uapi.h"

static inline int open_iommufd(void)
{
	int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("open /dev/iommu");
		exit(2);
	}
	return fd;
}

/* New IOAS id, or 0 on failure (errno set). */
static inline uint32_t ioas_alloc(int fd)
{
	struct iommu_ioas_alloc a = { .size = sizeof(a) };
	return ioctl(fd, IOMMU_IOAS_ALLOC, &a) ? 0 : a.out_ioas_id;
}

static inline int ioas_map(int fd, uint32_t ioas, void *buf, uint64_t len, uint32_t flags, uint64_t *iova)
{
	struct iommu_ioas_map m = {
		.size = sizeof(m), .flags = flags, .ioas_id = ioas,
		.user_va = (uintptr_t)buf, .length = len, .iova = *iova,
	};
	int rc = ioctl(fd, IOMMU_IOAS_MAP, &m);
	if (!rc)
		*iova = m.iova;
	return rc;
}

/* IOMMU_IOAS_MAP_FILE of [start, start + len) of mfd; *iova is the fixed IOVA in, the IOVA used out. */
static inline int ioas_map_file(int fd, uint32_t ioas, int mfd, uint64_t start, uint64_t len, uint32_t flags,
				uint64_t *iova)
{
	struct iommu_ioas_map_file m = {
		.size = sizeof(m), .flags = flags, .ioas_id = ioas, .fd = mfd,
		.start = start, .length = len, .iova = *iova,
	};
	int rc = ioctl(fd, IOMMU_IOAS_MAP_FILE, &m);
	if (!rc)
		*iova = m.iova;
	return rc;
}

static inline int ioas_unmap(int fd, uint32_t ioas, uint64_t iova, uint64_t len, uint64_t *unmapped)
{
	struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas, .iova = iova, .length = len };
	int rc = ioctl(fd, IOMMU_IOAS_UNMAP, &u);
	if (!rc && unmapped)
		*unmapped = u.length;
	return rc;
}

static inline int destroy(int fd, uint32_t id)
{
	struct iommu_destroy d = { .size = sizeof(d), .id = id };
	return ioctl(fd, IOMMU_DESTROY, &d);
}

/* IOMMU_IOAS_IOVA_RANGES into ranges[cap]; *num gets the count the engine reported. */
static inline int iova_ranges(int fd, uint32_t ioas, struct iommu_iova_range *ranges, uint32_t cap,
			      uint32_t *num, uint64_t *alignment)
{
	struct iommu_ioas_iova_ranges r = {
		.size = sizeof(r), .ioas_id = ioas, .num_iovas = cap, .allowed_iovas = (uintptr_t)ranges,
	};
	int rc = ioctl(fd, IOMMU_IOAS_IOVA_RANGES, &r);
	if (num)
		*num = r.num_iovas;
	if (alignment)
		*alignment = r.out_iova_alignment;
	return rc;
}

#endif
