/* wrap_io.c - ioctl, read, write and mmap: an emulated fd goes to its kind (shim.h: struct
 * emu_kind), anything else to libc. poll/select/epoll are not wrapped: they see the eventfd. */
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

/* No kind maps yet (ENODEV, as for /dev/iommu); one that does adds an op to struct emu_kind. */
EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (unlikely(!(flags & MAP_ANONYMOUS) && lookup(fd))) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	return REAL(mmap)(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	if (unlikely(!(flags & MAP_ANONYMOUS) && lookup(fd))) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	return REAL(mmap64)(addr, len, prot, flags, fd, off);
}
