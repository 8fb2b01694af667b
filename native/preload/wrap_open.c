/* wrap_open.c - open() and its seven variants. An emulated path opens an emulated fd of its
 * kind; anything else goes to libc. A new kind of device adds its path in emulated_open:
 * /dev/iommu (also relative to /dev), /dev/vfio/devices/<name> (absolute only). */
#include "shim.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int dir_is_dev(int dirfd)
{
	char buf[8], link[40];
	int saved = errno, ok;
	if (dirfd == AT_FDCWD) {
		ok = getcwd(buf, sizeof(buf)) && !strcmp(buf, "/dev");
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		ok = readlink(link, buf, sizeof(buf)) == 4 && !memcmp(buf, "/dev", 4);
	}
	errno = saved;
	return ok;
}

static int is_iommu(int dirfd, const char *p)
{
	if (unlikely(!p))
		return 0;
	if (p[0] == '/')
		return !strcmp(p, "/dev/iommu");
	if (p[0] == '.' && p[1] == '/')
		p += 2;
	return !strcmp(p, "iommu") && dir_is_dev(dirfd);
}

/* The name after "/dev/vfio/devices/" when path is under it (absolute paths only), else NULL.
 * Every name there is emulated: the machine's devices, ENOENT for anything else. */
static const char *vfio_device_name(const char *p)
{
	static const char dir[] = "/dev/vfio/devices/";
	if (unlikely(!p) || p[0] != '/' || strncmp(p, dir, sizeof(dir) - 1))
		return NULL;
	return p + sizeof(dir) - 1;
}

/* 1 with *fd set as open() returns it when the path is emulated, else 0. */
static int emulated_open(int dirfd, const char *path, int flags, int *fd)
{
	if (unlikely(is_iommu(dirfd, path))) {
		*fd = (int)libc_result(iommufd_open(flags));
		return 1;
	}
	const char *device = vfio_device_name(path);
	if (unlikely(device)) {
		*fd = (int)libc_result(vfio_device_open(device, flags));
		return 1;
	}
	return proc_status_open(path, flags, fd) || fail_nth_open(path, flags, fd) ||
	       fault_debugfs_open(dirfd, path, flags, 0, fd);
}

/* The mode argument is only read when the flags say it was passed. */
#define NEEDS_MODE(fl) (((fl) & O_CREAT) || ((fl) & O_TMPFILE) == O_TMPFILE)
#define GET_MODE(fl, mode) do { if (NEEDS_MODE(fl)) { va_list ap; va_start(ap, fl); \
	mode = va_arg(ap, mode_t); va_end(ap); } } while (0)

EXPORT int open(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;
	GET_MODE(flags, mode);
	if (emulated_open(AT_FDCWD, path, flags, &fd))
		return fd;
	return heal(REAL(open)(path, flags, mode));
}

EXPORT int open64(const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;
	GET_MODE(flags, mode);
	if (emulated_open(AT_FDCWD, path, flags, &fd))
		return fd;
	return heal(REAL(open64)(path, flags, mode));
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;
	GET_MODE(flags, mode);
	if (emulated_open(dirfd, path, flags, &fd))
		return fd;
	return heal(REAL(openat)(dirfd, path, flags, mode));
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	mode_t mode = 0;
	int fd;
	GET_MODE(flags, mode);
	if (emulated_open(dirfd, path, flags, &fd))
		return fd;
	return heal(REAL(openat64)(dirfd, path, flags, mode));
}

/* The fortify variants never take a mode. */
EXPORT int __open_2(const char *path, int flags)
{
	int fd;
	if (emulated_open(AT_FDCWD, path, flags, &fd))
		return fd;
	return heal(REAL(__open_2)(path, flags));
}

EXPORT int __open64_2(const char *path, int flags)
{
	int fd;
	if (emulated_open(AT_FDCWD, path, flags, &fd))
		return fd;
	return heal(REAL(__open64_2)(path, flags));
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	int fd;
	if (emulated_open(dirfd, path, flags, &fd))
		return fd;
	return heal(REAL(__openat_2)(dirfd, path, flags));
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	int fd;
	if (emulated_open(dirfd, path, flags, &fd))
		return fd;
	return heal(REAL(__openat64_2)(dirfd, path, flags));
}
