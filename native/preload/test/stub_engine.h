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

/* Debug: open an object fd for the cookie *(uint64_t *)arg; returns the fd. */
#define STUB_OBJECT _IO(IOMMUFD_TYPE, 0xf1)

/* Debug: the engine calls set_object_readable(cookie, readable) inside this ioctl. */
struct stub_readable { uint64_t cookie; int32_t readable; uint32_t pad; };
#define STUB_READABLE _IO(IOMMUFD_TYPE, 0xf2)

/* Debug: marks the thread inside the engine, waits until a fork's prepare handlers have started
 * (stub_gate), then opens an object fd for the cookie *(uint64_t *)arg; returns the fd. */
#define STUB_SLOW_OBJECT _IO(IOMMUFD_TYPE, 0xf3)
struct stub_gate {                 /* exported as "stub_gate" */
	_Atomic int armed;         /* the prepare handler waits for calls inside */
	_Atomic int inside;        /* STUB_SLOW_OBJECT calls running */
	_Atomic int prepare_started;
	_Atomic int timeouts;      /* forks that went ahead with a call inside */
};

/* Object fd read/write: a write stores up to sizeof(data) bytes (short write
 * beyond that), a read hands them back. STUB_COOKIE_EAGAIN fails both. */
#define STUB_COOKIE_EAGAIN 0xea9a1e5ull
struct stub_objects {              /* exported as "stub_objects" */
	int reads, writes, releases;
	uint64_t cookie, buf, len; /* last read/write call */
	uint64_t released;         /* last released cookie */
	uint32_t stored;
	uint8_t data[32];
	int clear_on_read;         /* a read calls set_object_readable(cookie, 0) */
};

/* Process pins: known for `pid` alone (0: for none). */
struct stub_pins {                 /* exported as "stub_pins" */
	int32_t pid;
	struct { uint64_t pinned_pages, locked_pages; } pins;
	int calls;
};

/* mmap of a context: exactly (STUB_MAP_OFFSET, one page) is offered, filled with STUB_MAP_BYTE,
 * as mapping STUB_MAP_COOKIE; anything else is ENXIO. */
#define STUB_MAP_OFFSET 0x100000ull
#define STUB_MAP_BYTE 0xab
#define STUB_MAP_COOKIE 0x3a9ull
struct stub_maps {                 /* exported as "stub_maps" */
	int maps, unmaps;
	uint64_t unmapped;         /* last unmapped cookie */
};

/* VFIO device files. The machine has STUB_DEVICES devices (vfio0, vfio1); handles are
 * STUB_DEV_HANDLE_BASE + the open's number. Regions (offset >> 40) are STUB_DEV_REGION_SIZE
 * bytes: a read gives STUB_DEV_BYTE(offset) for each byte, and stops short at the region's
 * end (0 bytes at or past it); a write keeps its first bytes in `written`, also stopping at the
 * end. mmap is allowed only at STUB_DEV_MAP_OFFSET for at most a region's size, else EINVAL.
 * A handle another process opened (an fd inherited across fork) answers EIO; its close is
 * ignored. The engine built with -DSTUB_NO_DEVICES exports none of this. */
#define STUB_DEVICES 2
#define STUB_DEV_HANDLE_BASE 0x5000
#define STUB_DEV_MAX_OPENS 1024
#define STUB_DEV_REGION_SIZE 0x1000ull
#define STUB_DEV_REGION(i) ((uint64_t)(i) << 40)
#define STUB_DEV_BYTE(x) ((uint8_t)((x) ^ ((x) >> 8) ^ (((x) >> 40) * 0x3b)))
#define STUB_DEV_MAP_OFFSET STUB_DEV_REGION(1)

/* Echo: out = ~in, handle = the device's; returns STUB_DEV_ECHO_RESULT. */
struct stub_dev_echo { uint64_t in; int64_t handle; uint64_t out; };
#define STUB_DEV_ECHO _IO(IOMMUFD_TYPE, 0xf8)
#define STUB_DEV_ECHO_RESULT 0x5a
/* As VFIO_DEVICE_BIND_IOMMUFD names its iommufd: ctx = lookup_iommufd_fd(iommufd). */
struct stub_dev_bind { int32_t iommufd; uint32_t pad; int64_t ctx; };
#define STUB_DEV_BIND _IO(IOMMUFD_TYPE, 0xf9)

struct stub_devices {              /* exported as "stub_devices" */
	int opens, closes, ioctls, reads, writes, maps;
	int64_t closed;            /* last closed handle */
	int64_t handle;            /* last read/write/mmap call */
	uint64_t buf, len, offset;
	uint8_t written[64];
	uint64_t written_len;
	int32_t owner[STUB_DEV_MAX_OPENS + 1]; /* pid that opened handle BASE + i */
};

#endif
