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

#endif
