/* selftest_uapi.h - the part of the kernel selftest protocol (IOMMU_TEST_CMD) the conformance
 * programs use: one definition of struct iommu_test_cmd with every op they send.
 *
 * Our own definitions, written from the facts of drivers/iommu/iommufd/iommufd_test.h: ops are
 * numbered, the op's payload is a union at offset 16, and the struct is 72 bytes.
 */
#ifndef CONFORMANCE_SELFTEST_UAPI_H
#define CONFORMANCE_SELFTEST_UAPI_H

#include "iommufd_uapi.h"

#define IOMMU_TEST_CMD IOMMU_CMD(0xa0)
#define TEST_OP_MOCK_DOMAIN 2
#define TEST_OP_MD_CHECK_MAP 3
#define TEST_OP_MD_CHECK_REFS 4
#define TEST_OP_CREATE_ACCESS 5
#define TEST_OP_ACCESS_PAGES 7
#define TEST_OP_ACCESS_RW 8
#define TEST_OP_MOCK_DOMAIN_REPLACE 10
#define TEST_OP_TRIGGER_IOPF 15
#define ACCESS_RW_WRITE (1 << 0)

struct iommu_test_cmd {
	uint32_t size, op, id, __reserved;
	union {
		struct { uint32_t out_stdev_id, out_hwpt_id, out_idev_id; } mock_domain;
		struct { uint32_t pt_id; } mock_domain_replace;
		struct { u64a iova; u64a length; u64a uptr; } check_map;
		struct { u64a length; u64a uptr; uint32_t refs; } check_refs;
		struct { uint32_t out_access_fd, flags; } create_access;
		struct { uint32_t flags, out_access_pages_id; u64a iova; u64a length; u64a uptr; } access_pages;
		struct { u64a iova; u64a length; u64a uptr; uint32_t flags; } access_rw;
		struct { uint32_t dev_id, pasid, grpid, perm; u64a addr; } trigger_iopf;
		uint8_t pad[48];
	};
	uint32_t last;
};
_Static_assert(sizeof(struct iommu_test_cmd) == 72, "iommu_test_cmd");
_Static_assert(offsetof(struct iommu_test_cmd, access_rw) == 16, "payload at 16");

#endif
