/* iommufd_uapi.h - the part of the iommufd uAPI the conformance programs use.
 *
 * Our own definitions, written from the facts of include/uapi/linux/iommufd.h
 * (v6.18): every command is _IO(';', nr), its struct starts with a u32 size,
 * and 64-bit fields are 8-byte aligned. Static asserts pin the layouts.
 */
#ifndef CONFORMANCE_IOMMUFD_UAPI_H
#define CONFORMANCE_IOMMUFD_UAPI_H

#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#define IOMMUFD_TYPE ';'
#define IOMMU_CMD(nr) _IO(IOMMUFD_TYPE, (nr))

#define IOMMU_DESTROY          IOMMU_CMD(0x80)
#define IOMMU_IOAS_ALLOC       IOMMU_CMD(0x81)
#define IOMMU_IOAS_ALLOW_IOVAS IOMMU_CMD(0x82)
#define IOMMU_IOAS_COPY        IOMMU_CMD(0x83)
#define IOMMU_IOAS_IOVA_RANGES IOMMU_CMD(0x84)
#define IOMMU_IOAS_MAP         IOMMU_CMD(0x85)
#define IOMMU_IOAS_UNMAP       IOMMU_CMD(0x86)
#define IOMMU_OPTION           IOMMU_CMD(0x87)
#define IOMMU_IOAS_MAP_FILE    IOMMU_CMD(0x8f)

#define u64a uint64_t __attribute__((aligned(8)))

struct iommu_destroy {
	uint32_t size;
	uint32_t id;
};

struct iommu_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

struct iommu_iova_range {
	u64a start;
	u64a last;
};

struct iommu_ioas_iova_ranges {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas;
	uint32_t reserved;
	u64a allowed_iovas;
	u64a out_iova_alignment;
};

struct iommu_ioas_allow_iovas {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas;
	uint32_t reserved;
	u64a allowed_iovas;
};

enum {
	IOMMU_IOAS_MAP_FIXED_IOVA = 1 << 0,
	IOMMU_IOAS_MAP_WRITEABLE = 1 << 1,
	IOMMU_IOAS_MAP_READABLE = 1 << 2,
};
#define MAP_RW (IOMMU_IOAS_MAP_WRITEABLE | IOMMU_IOAS_MAP_READABLE)

struct iommu_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t reserved;
	u64a user_va;
	u64a length;
	u64a iova;
};

struct iommu_ioas_copy {
	uint32_t size;
	uint32_t flags;
	uint32_t dst_ioas_id;
	uint32_t src_ioas_id;
	u64a length;
	u64a dst_iova;
	u64a src_iova;
};

struct iommu_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	u64a iova;
	u64a length;
};

enum { IOMMU_OPTION_RLIMIT_MODE = 0, IOMMU_OPTION_HUGE_PAGES = 1 };
enum { IOMMU_OPTION_OP_SET = 0, IOMMU_OPTION_OP_GET = 1 };

/* MAP_FILE: [start, start + length) of the file fd, at iova (in with FIXED_IOVA, else out). */
struct iommu_ioas_map_file {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	int32_t fd;
	u64a start;
	u64a length;
	u64a iova;
};

struct iommu_option {
	uint32_t size;
	uint32_t option_id;
	uint16_t op;
	uint16_t reserved;
	uint32_t object_id;
	u64a val64;
};

_Static_assert(sizeof(struct iommu_destroy) == 8, "destroy");
_Static_assert(sizeof(struct iommu_ioas_alloc) == 12, "ioas_alloc");
_Static_assert(sizeof(struct iommu_iova_range) == 16, "iova_range");
_Static_assert(sizeof(struct iommu_ioas_iova_ranges) == 32, "iova_ranges");
_Static_assert(sizeof(struct iommu_ioas_allow_iovas) == 24, "allow_iovas");
_Static_assert(sizeof(struct iommu_ioas_map) == 40, "map");
_Static_assert(sizeof(struct iommu_ioas_copy) == 40, "copy");
_Static_assert(sizeof(struct iommu_ioas_unmap) == 24, "unmap");
_Static_assert(sizeof(struct iommu_option) == 24, "option");
_Static_assert(sizeof(struct iommu_ioas_map_file) == 40, "map_file");
_Static_assert(offsetof(struct iommu_option, val64) == 16, "option val64");

#endif
