/* vfio_uapi.h - the part of the VFIO device cdev uAPI the vfio_* programs use, plus the
 * iommufd commands that take a device ID (HWPT_ALLOC, GET_HW_INFO).
 *
 * Our own definitions, written from the facts of include/uapi/linux/vfio.h and iommufd.h
 * (v6.18): every VFIO command is _IO(';', 100 + n) and its struct starts with u32 argsz
 * (the iommufd ones with u32 size); 64-bit fields are 8-byte aligned. Static asserts pin the
 * layouts.
 */
#ifndef CONFORMANCE_VFIO_UAPI_H
#define CONFORMANCE_VFIO_UAPI_H

#include "iommufd_uapi.h"

#define VFIO_CMD(n) _IO(';', 100 + (n))
#define VFIO_DEVICE_GET_INFO              VFIO_CMD(7)
#define VFIO_DEVICE_GET_REGION_INFO       VFIO_CMD(8)
#define VFIO_DEVICE_GET_IRQ_INFO          VFIO_CMD(9)
#define VFIO_DEVICE_SET_IRQS              VFIO_CMD(10)
#define VFIO_DEVICE_RESET                 VFIO_CMD(11)
#define VFIO_DEVICE_GET_PCI_HOT_RESET_INFO VFIO_CMD(12)
#define VFIO_DEVICE_FEATURE               VFIO_CMD(17)
#define VFIO_DEVICE_BIND_IOMMUFD          VFIO_CMD(18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT     VFIO_CMD(19)
#define VFIO_DEVICE_DETACH_IOMMUFD_PT     VFIO_CMD(20)

/* BIND: iommufd names an iommufd fd of this process; out_devid is its device object's ID.
 * token_uuid_ptr is read only with the TOKEN flag (a VF token; our devices have none). */
#define VFIO_DEVICE_BIND_FLAG_TOKEN (1u << 0)
struct vfio_device_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
	u64a token_uuid_ptr;
};
#define VFIO_BIND_MINSZ 16 /* through out_devid */

/* ATTACH: pt_id in = an IOAS or HWPT, out = the HWPT the device now uses. */
#define VFIO_DEVICE_ATTACH_PASID (1u << 0)
struct vfio_device_attach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id;
	uint32_t pasid;
};
#define VFIO_ATTACH_MINSZ 12 /* through pt_id */

struct vfio_device_detach_iommufd_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pasid;
};
#define VFIO_DETACH_MINSZ 8 /* through flags */

enum {
	VFIO_DEVICE_FLAGS_RESET = 1 << 0,
	VFIO_DEVICE_FLAGS_PCI = 1 << 1,
	VFIO_DEVICE_FLAGS_CAPS = 1 << 7,
};
struct vfio_device_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t num_regions;
	uint32_t num_irqs;
	uint32_t cap_offset;
	uint32_t pad;
};
#define VFIO_INFO_MINSZ 16 /* through num_irqs */

/* vfio-pci's fixed region and IRQ indexes. */
enum {
	VFIO_PCI_BAR0_REGION_INDEX = 0,
	VFIO_PCI_BAR5_REGION_INDEX = 5,
	VFIO_PCI_ROM_REGION_INDEX = 6,
	VFIO_PCI_CONFIG_REGION_INDEX = 7,
	VFIO_PCI_VGA_REGION_INDEX = 8,
	VFIO_PCI_NUM_REGIONS = 9,
};
enum {
	VFIO_PCI_INTX_IRQ_INDEX = 0,
	VFIO_PCI_MSI_IRQ_INDEX = 1,
	VFIO_PCI_MSIX_IRQ_INDEX = 2,
	VFIO_PCI_ERR_IRQ_INDEX = 3,
	VFIO_PCI_REQ_IRQ_INDEX = 4,
	VFIO_PCI_NUM_IRQS = 5,
};

enum {
	VFIO_REGION_INFO_FLAG_READ = 1 << 0,
	VFIO_REGION_INFO_FLAG_WRITE = 1 << 1,
	VFIO_REGION_INFO_FLAG_MMAP = 1 << 2,
	VFIO_REGION_INFO_FLAG_CAPS = 1 << 3,
};
struct vfio_region_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t cap_offset; /* from the start of this struct; 0: no chain */
	u64a size;
	u64a offset; /* where the region sits in the device fd's file offsets */
};
#define VFIO_REGION_INFO_MINSZ 32 /* through offset */

/* Capability chains (device info and region info): each header's next is an offset from the
 * start of the info struct, 0 ends the chain. */
struct vfio_info_cap_header {
	uint16_t id;
	uint16_t version;
	uint32_t next;
};
enum {
	VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1,
	VFIO_REGION_INFO_CAP_TYPE = 2,
	VFIO_REGION_INFO_CAP_MSIX_MAPPABLE = 3,
};

enum {
	VFIO_IRQ_INFO_EVENTFD = 1 << 0,
	VFIO_IRQ_INFO_MASKABLE = 1 << 1,
	VFIO_IRQ_INFO_AUTOMASKED = 1 << 2,
	VFIO_IRQ_INFO_NORESIZE = 1 << 3,
};
struct vfio_irq_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t count;
};

/* SET_IRQS: exactly one data type and one action; data follows the header. */
enum {
	VFIO_IRQ_SET_DATA_NONE = 1 << 0,
	VFIO_IRQ_SET_DATA_BOOL = 1 << 1,
	VFIO_IRQ_SET_DATA_EVENTFD = 1 << 2,
	VFIO_IRQ_SET_ACTION_MASK = 1 << 3,
	VFIO_IRQ_SET_ACTION_UNMASK = 1 << 4,
	VFIO_IRQ_SET_ACTION_TRIGGER = 1 << 5,
};
struct vfio_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
	uint8_t data[];
};

/* FEATURE: the low 16 bits of flags name the feature; GET/SET/PROBE say what to do. */
#define VFIO_DEVICE_FEATURE_MASK 0xffffu
#define VFIO_DEVICE_FEATURE_GET (1u << 16)
#define VFIO_DEVICE_FEATURE_SET (1u << 17)
#define VFIO_DEVICE_FEATURE_PROBE (1u << 18)
#define VFIO_DEVICE_FEATURE_MIGRATION 1
#define VFIO_DEVICE_FEATURE_DMA_LOGGING_START 6
struct vfio_device_feature {
	uint32_t argsz;
	uint32_t flags;
	uint8_t data[];
};

/* Hot-reset info: the devices a bus/slot reset would touch. With a cdev bound to iommufd the
 * entries carry iommufd device IDs (FLAG_DEV_ID). */
#define VFIO_PCI_HOT_RESET_FLAG_DEV_ID (1u << 0)
#define VFIO_PCI_HOT_RESET_FLAG_DEV_ID_OWNED (1u << 1)
struct vfio_pci_dependent_device {
	uint32_t devid; /* or group_id without FLAG_DEV_ID */
	uint16_t segment;
	uint8_t bus;
	uint8_t devfn;
};
struct vfio_pci_hot_reset_info {
	uint32_t argsz;
	uint32_t flags;
	uint32_t count;
	struct vfio_pci_dependent_device devices[];
};

/* ---- iommufd commands that name a device ---- */
#define IOMMU_HWPT_ALLOC  IOMMU_CMD(0x89)
#define IOMMU_GET_HW_INFO IOMMU_CMD(0x8a)

enum {
	IOMMU_HWPT_ALLOC_NEST_PARENT = 1 << 0,
	IOMMU_HWPT_ALLOC_DIRTY_TRACKING = 1 << 1,
	IOMMU_HWPT_FAULT_ID_VALID = 1 << 2,
	IOMMU_HWPT_ALLOC_PASID = 1 << 3,
};
struct iommu_hwpt_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t pt_id;
	uint32_t out_hwpt_id;
	uint32_t __reserved;
	uint32_t data_type;
	uint32_t data_len;
	u64a data_uptr;
	uint32_t fault_id;
	uint32_t __reserved2;
};

enum {
	IOMMU_HW_INFO_TYPE_NONE = 0,
	IOMMU_HW_INFO_TYPE_INTEL_VTD = 1,
	IOMMU_HW_INFO_TYPE_ARM_SMMUV3 = 2,
};
#define IOMMU_HW_CAP_DIRTY_TRACKING (1ull << 0)
struct iommu_hw_info {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t data_len; /* in: room at data_uptr; out: bytes the driver has */
	u64a data_uptr;
	uint32_t out_data_type;
	uint8_t out_max_pasid_log2;
	uint8_t __reserved[3];
	u64a out_capabilities;
};

_Static_assert(sizeof(struct vfio_device_bind_iommufd) == 24, "bind");
_Static_assert(sizeof(struct vfio_device_attach_iommufd_pt) == 16, "attach");
_Static_assert(sizeof(struct vfio_device_detach_iommufd_pt) == 12, "detach");
_Static_assert(sizeof(struct vfio_device_info) == 24, "device_info");
_Static_assert(sizeof(struct vfio_region_info) == 32, "region_info");
_Static_assert(sizeof(struct vfio_info_cap_header) == 8, "cap_header");
_Static_assert(sizeof(struct vfio_irq_info) == 16, "irq_info");
_Static_assert(sizeof(struct vfio_irq_set) == 20, "irq_set");
_Static_assert(sizeof(struct vfio_device_feature) == 8, "feature");
_Static_assert(sizeof(struct vfio_pci_dependent_device) == 8, "dependent_device");
_Static_assert(sizeof(struct vfio_pci_hot_reset_info) == 12, "hot_reset_info");
_Static_assert(sizeof(struct iommu_hwpt_alloc) == 48, "hwpt_alloc");
_Static_assert(sizeof(struct iommu_hw_info) == 40, "hw_info");
_Static_assert(offsetof(struct iommu_hw_info, out_capabilities) == 32, "hw_info caps");

#endif
