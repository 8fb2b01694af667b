/* wrap_io.c - ioctl, read, write and mmap: an emulated fd goes to its kind (shim.h: struct
 * emu_kind), anything else to libc. poll/select/epoll are not wrapped: they see the eventfd.
 * The calls with offsets are in wrap_pio.c. */
#include "shim.h"
#include <stdarg.h>
#include <sys/mman.h>

/* The kernel's ioctl takes an unsigned int cmd: truncate the same way. */
EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	struct emu_file *f = lookup(fd);
	if (!f)
		return REAL(ioctl)(fd, req, arg);
	return (int)libc_result(kind_of(f)->ioctl(f, (uint32_t)req, (uint64_t)(uintptr_t)arg));
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct emu_file *f = lookup(fd);
	if (unlikely(f))
		return libc_result(kind_of(f)->read(f, (uint64_t)(uintptr_t)buf, n));
	return REAL(read)(fd, buf, n);
}

/* _FORTIFY_SOURCE's read(): glibc's own reads the fd without going through our read(). An
 * overflow is left to the real one to report. */
EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct emu_file *f = lookup(fd);
	if (unlikely(f) && n <= buflen)
		return libc_result(kind_of(f)->read(f, (uint64_t)(uintptr_t)buf, n));
	return REAL(__read_chk)(fd, buf, n, buflen);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct emu_file *f = lookup(fd);
	if (unlikely(f))
		return libc_result(kind_of(f)->write(f, (uint64_t)(uintptr_t)buf, n));
	return REAL(write)(fd, buf, n);
}

/* The kernel's checks on a file mapping before the driver is asked: a length, a page-aligned
 * offset, a readable file, and a writable one for a shared writable mapping. */
static int mmap_allowed(struct emu_file *f, size_t len, int prot, int shared, off_t off)
{
	if (!len || (off & (sysconf(_SC_PAGESIZE) - 1)))
		return -EINVAL;
	if (f->accmode == O_WRONLY || (shared && (prot & PROT_WRITE) && f->accmode == O_RDONLY))
		return -EACCES;
	return 0;
}

/* A kind that maps (struct emu_kind.mmap) gets a fresh shared anonymous mapping filled by the
 * engine, then given the caller's protection; others are ENODEV, as /dev/iommu was. */
static void *emulated_mmap(struct emu_file *f, void *addr, size_t len, int prot, int flags, off_t off)
{
	const struct emu_kind *k = kind_of(f);
	int type = flags & MAP_TYPE;
	int shared = type == MAP_SHARED || type == MAP_SHARED_VALIDATE;
	int e = -mmap_allowed(f, len, prot, shared, off);
	if (!e && !k->mmap)
		e = ENODEV;
	if (e) {
		errno = e;
		return MAP_FAILED;
	}
	int anon = (flags & ~(MAP_SHARED | MAP_PRIVATE | MAP_SHARED_VALIDATE)) | MAP_SHARED | MAP_ANONYMOUS;
	void *p = REAL(mmap)(addr, len, PROT_READ | PROT_WRITE, anon, -1, 0);
	if (p == MAP_FAILED)
		return p;
	int64_t cookie = k->mmap(f, (uint64_t)off, len, (uint64_t)(uintptr_t)p, shared);
	e = cookie < 0 ? (int)-cookie : 0;
	if (!e && prot != (PROT_READ | PROT_WRITE) && mprotect(p, len, prot))
		e = errno;
	if (!e && cookie > 0 && map_record(p, len, (uint64_t)cookie) < 0)
		e = ENOMEM;
	if (e) {
		if (cookie > 0)
			eng.munmap((uint64_t)cookie);
		REAL(munmap)(p, len);
		errno = e;
		return MAP_FAILED;
	}
	return p;
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	struct emu_file *f = !(flags & MAP_ANONYMOUS) ? lookup(fd) : NULL;
	if (unlikely(f))
		return emulated_mmap(f, addr, len, prot, flags, off);
	return REAL(mmap)(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	struct emu_file *f = !(flags & MAP_ANONYMOUS) ? lookup(fd) : NULL;
	if (unlikely(f))
		return emulated_mmap(f, addr, len, prot, flags, off);
	return REAL(mmap64)(addr, len, prot, flags, fd, off);
}
