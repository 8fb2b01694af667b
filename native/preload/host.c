/* host.c - the callbacks the engine calls (struct iommufd_emu_host): user copies (chosen at
 * load time, engine.c), object fds and the fd -> context look-up of a device bind. None of
 * them calls back into the engine, except close_fd, which may release an object on this
 * thread. */
#include "shim.h"
#include <poll.h>
#include <sys/eventfd.h>

__thread struct emu_file *cur_ctx __attribute__((tls_model("initial-exec")));

/* A new object fd for `cookie`, holding a reference on the context being served. */
static int host_open_object_fd(int64_t ctx, uint64_t cookie)
{
	struct emu_file *c = cur_ctx, *f, *dead = NULL;
	if (!c || !table_owner())
		return -EBADF;
	int fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		REAL(close)(fd);
		return -e;
	}
	int rc = -EBADF;
	pthread_mutex_lock(&tbl_lock);
	if (kind_of(c) == &iommufd_kind && c->refs > 0 && id_of(c) == (uint64_t)ctx &&
	    (f = add_file_locked(fd, &object_kind, cookie, &dead, &rc))) {
		f->dev = st.st_dev;
		f->ino = st.st_ino;
		c->refs++; /* the kernel's access fd pins its iommufd */
		f->holds = c;
		cookie_list_add(f);
		rc = fd;
	}
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	if (rc < 0)
		REAL(close)(fd);
	return rc;
}

static int64_t host_lookup_object_fd(int fd)
{
	struct emu_file *f = lookup(fd);
	if (!f || kind_of(f) != &object_kind)
		return -1;
	int64_t c = (int64_t)id_of(f);
	return c >= 0 ? c : -1;
}

/* VFIO_DEVICE_BIND_IOMMUFD names its iommufd by fd: the context behind it. */
static int64_t host_lookup_iommufd_fd(int fd)
{
	struct emu_file *f = lookup(fd);
	if (!f || kind_of(f) != &iommufd_kind)
		return -1;
	int64_t c = (int64_t)id_of(f);
	return c > 0 ? c : -1;
}

static int host_close_fd(int fd)
{
	int saved = errno;
	int r = close(fd) == 0 ? 0 : -errno;
	errno = saved;
	return r;
}

/* Under tbl_lock: make the eventfd's counter 1 (poll readable) or 0. Only this code changes
 * it (the program's read/write go to the engine), but a counter touched behind our back
 * (readv, raw syscalls) must not make us block with the lock held: poll first, read only when
 * readable, write only when not. The REAL() calls keep our own read/write out of it; fstat
 * makes sure the number (table entries can be stale) is still that eventfd, as far as the
 * kernel tells eventfds apart. */
static void set_counter(struct emu_file *f, int fd, int readable)
{
	struct stat st;
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	uint64_t v = 1;
	if (fstat(fd, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino)
		return;
	if (poll(&p, 1, 0) != 1 || (p.revents & (POLLERR | POLLNVAL)))
		return;
	if (readable && !(p.revents & POLLIN) && (p.revents & POLLOUT))
		REAL(write)(fd, &v, sizeof(v));
	else if (!readable && (p.revents & POLLIN))
		REAL(read)(fd, &v, sizeof(v));
}

/* Holding tbl_lock throughout keeps the fd number from being closed and reused meanwhile
 * (close/dup2/close_range take it too), and orders concurrent calls. */
static void host_set_object_readable(uint64_t cookie, int readable)
{
	int saved = errno;
	readable = !!readable;
	pthread_mutex_lock(&tbl_lock);
	struct emu_file *f = cookie_list_find(cookie);
	if (f && f->readable != readable) {
		int fd = fd_of(f);
		if (fd >= 0)
			set_counter(f, fd, readable);
		f->readable = readable;
	}
	pthread_mutex_unlock(&tbl_lock);
	errno = saved;
}

struct iommufd_emu_host host = {
	.open_object_fd = host_open_object_fd,
	.lookup_object_fd = host_lookup_object_fd,
	.close_fd = host_close_fd,
	.set_object_readable = host_set_object_readable,
	.lookup_iommufd_fd = host_lookup_iommufd_fd,
};
