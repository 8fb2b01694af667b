/* kind_iommufd.c - an fd from open("/dev/iommu"): an engine context. ioctl goes to the engine;
 * /dev/iommu has no read/write (EINVAL); mmap maps what the engine offers at an offset (a
 * vIOMMU's region). */
#include "shim.h"
#include <sys/eventfd.h>

/* open("/dev/iommu"): a new context behind a new eventfd. The fd, or -errno. */
int iommufd_open(int flags)
{
	int s = load_engine();
	if (s < 0)
		return s;
	int64_t h = eng.open();
	if (h <= 0)
		return h < 0 ? (int)h : -EIO;
	int fd = eventfd(0, EFD_NONBLOCK | ((flags & O_CLOEXEC) ? EFD_CLOEXEC : 0));
	if (fd < 0) {
		int e = errno;
		eng.close(h);
		return -e;
	}
	struct emu_file *dead = NULL;
	int rc = 0;
	pthread_mutex_lock(&tbl_lock);
	add_file_locked(fd, &iommufd_kind, (uint64_t)h, &dead, &rc);
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	if (rc < 0) {
		REAL(close)(fd);
		eng.close(h);
		return -EMFILE;
	}
	return fd;
}

/* cur_ctx tells open_object_fd (host.c) which record the engine is serving. */
static int iommufd_ioctl(struct emu_file *f, uint32_t cmd, uint64_t arg)
{
	struct emu_file *outer = cur_ctx;
	cur_ctx = f;
	int r = eng.ioctl((int64_t)id_of(f), cmd, arg);
	cur_ctx = outer;
	return r;
}

static int64_t no_rw(struct emu_file *f, uint64_t buf, uint64_t len)
{
	(void)f, (void)buf, (void)len;
	return -EINVAL;
}

static void iommufd_release(struct emu_file *f)
{
	eng.close((int64_t)id_of(f));
}

static int64_t iommufd_mmap(struct emu_file *f, uint64_t offset, uint64_t len, uint64_t dst, int shared)
{
	(void)shared; /* a snapshot either way */
	return eng.mmap((int64_t)id_of(f), offset, len, dst);
}

const struct emu_kind iommufd_kind = {
	.name = "iommufd",
	.ioctl = iommufd_ioctl,
	.read = no_rw,
	.write = no_rw,
	.release = iommufd_release,
	.mmap = iommufd_mmap,
};
