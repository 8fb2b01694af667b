/* stub_engine.c - trivial stand-in for the IommuFd.NET engine (tests only). */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>
#include <stdatomic.h>
#include <stddef.h>
#include <string.h>
#include <unistd.h>
#include "../iommufd_emu.h"
#include "stub_engine.h"

#define EXPORT __attribute__((visibility("default")))
#define MAX_CTX 65536

static const struct iommufd_emu_host *host;
static atomic_int live;
static atomic_int next_handle;
static atomic_bool open_ctx[MAX_CTX];

/* A call gate like the real engine's, for the fork-ordering test: while armed, the stub's fork
 * prepare handler waits (up to GATE_WAIT_NS) for every STUB_SLOW_OBJECT call to leave. */
#define GATE_WAIT_NS 2000000000ll
EXPORT struct stub_gate stub_gate;

static int64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000000000ll + t.tv_nsec;
}

static void gate_prepare(void)
{
	if (!atomic_load(&stub_gate.armed))
		return;
	atomic_store(&stub_gate.prepare_started, 1);
	int64_t deadline = now_ns() + GATE_WAIT_NS;
	while (atomic_load(&stub_gate.inside) && now_ns() < deadline)
		sched_yield();
	if (atomic_load(&stub_gate.inside))
		atomic_fetch_add(&stub_gate.timeouts, 1);
}

/* Inside the engine, waits for a fork to start, then opens an object fd. */
static int slow_object(int64_t ctx, uint64_t cookie)
{
	atomic_fetch_add(&stub_gate.inside, 1);
	int64_t deadline = now_ns() + 2 * GATE_WAIT_NS;
	while (!atomic_load(&stub_gate.prepare_started) && now_ns() < deadline)
		sched_yield();
	int fd = host->open_object_fd(ctx, cookie);
	atomic_fetch_sub(&stub_gate.inside, 1);
	return fd;
}

/* Lets the benchmark call the shim's copy routines directly. */
EXPORT const struct iommufd_emu_host *stub_engine_host(void) { return host; }

EXPORT int iommufd_emu_init(const struct iommufd_emu_host *h)
{
	if (!h)
		return -EINVAL;
	host = h;
	pthread_atfork(gate_prepare, NULL, NULL);
	return 0;
}

EXPORT int64_t iommufd_emu_open(void)
{
	int h = atomic_fetch_add(&next_handle, 1) + 1;
	if (h >= MAX_CTX)
		return -ENOMEM;
	atomic_store(&open_ctx[h], 1);
	atomic_fetch_add(&live, 1);
	return h;
}

EXPORT int iommufd_emu_ioctl(int64_t ctx, uint64_t cmd, uint64_t arg)
{
	if (ctx <= 0 || ctx >= MAX_CTX || !atomic_load(&open_ctx[ctx]))
		return -EBADF;
	switch (cmd) {
	case IOMMU_DESTROY: {
		struct iommu_destroy d;
		if (host->copy_from_user(&d, arg, sizeof(d)))
			return -EFAULT;
		return d.size < sizeof(d) ? -EINVAL : -ENOENT;
	}
	case STUB_INFO: {
		struct stub_info i = { sizeof(i), (uint32_t)atomic_load(&live), ctx };
		return host->copy_to_user(arg, &i, sizeof(i));
	}
	case STUB_OBJECT: {
		uint64_t cookie;
		if (host->copy_from_user(&cookie, arg, sizeof(cookie)))
			return -EFAULT;
		return host->open_object_fd(ctx, cookie);
	}
	case STUB_SLOW_OBJECT: {
		uint64_t cookie;
		if (host->copy_from_user(&cookie, arg, sizeof(cookie)))
			return -EFAULT;
		return slow_object(ctx, cookie);
	}
	case STUB_READABLE: {
		struct stub_readable r;
		if (host->copy_from_user(&r, arg, sizeof(r)))
			return -EFAULT;
		host->set_object_readable(r.cookie, r.readable);
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

EXPORT void iommufd_emu_close(int64_t ctx)
{
	if (ctx > 0 && ctx < MAX_CTX && atomic_exchange(&open_ctx[ctx], 0))
		atomic_fetch_sub(&live, 1);
}

/* Object fds: not thread-safe, the self-test drives them from one thread. */
EXPORT struct stub_objects stub_objects;

EXPORT void iommufd_emu_release_object(uint64_t cookie)
{
	stub_objects.releases++;
	stub_objects.released = cookie;
}

static void note(int *count, uint64_t cookie, uint64_t buf, uint64_t len)
{
	(*count)++;
	stub_objects.cookie = cookie;
	stub_objects.buf = buf;
	stub_objects.len = len;
}

EXPORT int64_t iommufd_emu_object_read(uint64_t cookie, uint64_t buf, uint64_t len)
{
	note(&stub_objects.reads, cookie, buf, len);
	if (cookie == STUB_COOKIE_EAGAIN)
		return -EAGAIN;
	uint64_t n = len < stub_objects.stored ? len : stub_objects.stored;
	if (host->copy_to_user(buf, stub_objects.data, n))
		return -EFAULT;
	if (stub_objects.clear_on_read) /* drained, as a fault queue's read */
		host->set_object_readable(cookie, 0);
	return (int64_t)n;
}

EXPORT int64_t iommufd_emu_object_write(uint64_t cookie, uint64_t buf, uint64_t len)
{
	note(&stub_objects.writes, cookie, buf, len);
	if (cookie == STUB_COOKIE_EAGAIN)
		return -EAGAIN;
	uint64_t n = len < sizeof(stub_objects.data) ? len : sizeof(stub_objects.data);
	uint8_t tmp[sizeof(stub_objects.data)];
	if (host->copy_from_user(tmp, buf, n))
		return -EFAULT;
	memcpy(stub_objects.data, tmp, n);
	stub_objects.stored = (uint32_t)n;
	return (int64_t)n;
}

EXPORT struct stub_pins stub_pins;

EXPORT int iommufd_emu_process_pins(int32_t pid, struct iommufd_emu_pins *pins)
{
	stub_pins.calls++;
	if (!stub_pins.pid || pid != stub_pins.pid)
		return -ENOENT;
	pins->pinned_pages = stub_pins.pins.pinned_pages;
	pins->locked_pages = stub_pins.pins.locked_pages;
	return 0;
}

EXPORT struct stub_maps stub_maps;

/* One page at STUB_MAP_OFFSET, filled with STUB_MAP_BYTE. */
EXPORT int64_t iommufd_emu_mmap(int64_t ctx, uint64_t offset, uint64_t length, uint64_t dst)
{
	(void)ctx;
	if (offset != STUB_MAP_OFFSET || length != (uint64_t)sysconf(_SC_PAGESIZE))
		return -ENXIO;
	uint8_t page[65536];
	if (length > sizeof(page))
		return -ENXIO;
	memset(page, STUB_MAP_BYTE, length);
	if (host->copy_to_user(dst, page, length))
		return -EFAULT;
	stub_maps.maps++;
	return (int64_t)STUB_MAP_COOKIE;
}

/* fail-nth: a countdown per calling thread; the stub has no fault sites, so it only stores it. */
static __thread uint32_t stub_fail_nth;

EXPORT int iommufd_emu_fail_nth_set(int32_t tid, uint32_t n)
{
	(void)tid;
	stub_fail_nth = n;
	return 0;
}

EXPORT int64_t iommufd_emu_fail_nth_get(int32_t tid)
{
	(void)tid;
	return stub_fail_nth;
}

EXPORT void iommufd_emu_munmap(uint64_t cookie)
{
	stub_maps.unmaps++;
	stub_maps.unmapped = cookie;
}

#ifndef STUB_NO_DEVICES
EXPORT struct stub_devices stub_devices;

EXPORT int iommufd_emu_device_count(void) { return STUB_DEVICES; }

EXPORT int64_t iommufd_emu_device_open(uint32_t index)
{
	if (index >= STUB_DEVICES)
		return -ENOENT;
	if (stub_devices.opens >= STUB_DEV_MAX_OPENS)
		return -ENOMEM;
	int n = ++stub_devices.opens;
	stub_devices.owner[n] = getpid();
	return STUB_DEV_HANDLE_BASE + n;
}

/* 0 for a handle this process opened; EIO for an inherited one, EBADF for garbage. */
static int device_check(int64_t dev)
{
	int64_t n = dev - STUB_DEV_HANDLE_BASE;
	if (n <= 0 || n > stub_devices.opens)
		return -EBADF;
	return stub_devices.owner[n] == getpid() ? 0 : -EIO;
}

EXPORT int iommufd_emu_device_ioctl(int64_t dev, uint64_t cmd, uint64_t arg)
{
	int r = device_check(dev);
	if (r < 0)
		return r;
	stub_devices.ioctls++;
	switch (cmd) {
	case STUB_DEV_ECHO: {
		struct stub_dev_echo e;
		if (host->copy_from_user(&e, arg, sizeof(e)))
			return -EFAULT;
		e.out = ~e.in;
		e.handle = dev;
		return host->copy_to_user(arg, &e, sizeof(e)) ? -EFAULT : STUB_DEV_ECHO_RESULT;
	}
	case STUB_DEV_BIND: {
		struct stub_dev_bind b;
		if (host->copy_from_user(&b, arg, sizeof(b)))
			return -EFAULT;
		b.ctx = host->lookup_iommufd_fd(b.iommufd);
		return host->copy_to_user(arg, &b, sizeof(b)) ? -EFAULT : 0;
	}
	default:
		return -ENOTTY;
	}
}

/* Bytes of the region left from offset (0 at or past its end). */
static uint64_t region_left(uint64_t offset, uint64_t len)
{
	uint64_t in = offset & (STUB_DEV_REGION(1) - 1);
	uint64_t left = in < STUB_DEV_REGION_SIZE ? STUB_DEV_REGION_SIZE - in : 0;
	return len < left ? len : left;
}

static void note_rw(int *count, int64_t dev, uint64_t buf, uint64_t len, uint64_t offset)
{
	(*count)++;
	stub_devices.handle = dev;
	stub_devices.buf = buf;
	stub_devices.len = len;
	stub_devices.offset = offset;
}

EXPORT int64_t iommufd_emu_device_read(int64_t dev, uint64_t buf, uint64_t len, uint64_t offset)
{
	int r = device_check(dev);
	if (r < 0)
		return r;
	note_rw(&stub_devices.reads, dev, buf, len, offset);
	uint8_t chunk[256];
	uint64_t n = region_left(offset, len);
	for (uint64_t done = 0; done < n;) {
		uint64_t c = n - done < sizeof(chunk) ? n - done : sizeof(chunk);
		for (uint64_t i = 0; i < c; i++)
			chunk[i] = STUB_DEV_BYTE(offset + done + i);
		if (host->copy_to_user(buf + done, chunk, c))
			return -EFAULT;
		done += c;
	}
	return (int64_t)n;
}

EXPORT int64_t iommufd_emu_device_write(int64_t dev, uint64_t buf, uint64_t len, uint64_t offset)
{
	int r = device_check(dev);
	if (r < 0)
		return r;
	note_rw(&stub_devices.writes, dev, buf, len, offset);
	uint64_t n = region_left(offset, len);
	uint64_t kept = n < sizeof(stub_devices.written) ? n : sizeof(stub_devices.written);
	uint8_t tmp[sizeof(stub_devices.written)];
	if (host->copy_from_user(tmp, buf, kept))
		return -EFAULT;
	memcpy(stub_devices.written, tmp, kept);
	stub_devices.written_len = kept;
	return (int64_t)n;
}

EXPORT int iommufd_emu_device_mmap(int64_t dev, uint64_t offset, uint64_t length)
{
	int r = device_check(dev);
	if (r < 0)
		return r;
	stub_devices.maps++;
	stub_devices.handle = dev;
	stub_devices.offset = offset;
	stub_devices.len = length;
	return offset == STUB_DEV_MAP_OFFSET && length && length <= STUB_DEV_REGION_SIZE ? 0 : -EINVAL;
}

EXPORT void iommufd_emu_device_close(int64_t dev)
{
	if (device_check(dev) < 0)
		return;
	stub_devices.closes++;
	stub_devices.closed = dev;
}
#endif
