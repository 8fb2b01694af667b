/* stub_engine.h - commands understood by the test stub engine. */
#ifndef STUB_ENGINE_H
#define STUB_ENGINE_H
#include <stdint.h>
#include <sys/ioctl.h>

#define IOMMUFD_TYPE ';'
#define IOMMU_DESTROY _IO(IOMMUFD_TYPE, 0x80)       /* 0x3b80 */
struct iommu_destroy { uint32_t size; uint32_t id; };

/* Debug: report live contexts and the handle behind this fd. */
struct stub_info { uint32_t size; uint32_t live; int64_t handle; };
#define STUB_INFO _IO(IOMMUFD_TYPE, 0xf0)

#endif
