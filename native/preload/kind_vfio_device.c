/* kind_vfio_device.c - an fd from open("/dev/vfio/devices/vfioN"): one VFIO device file of the
 * engine (iommufd_emu_device_*). ioctl goes to the engine; pread/pwrite and the vector calls
 * pass their offset and read/write the file position (wrap_pio.c), as the kernel's device file
 * does (vfio-pci keeps the region index in the offset's high bits; the engine decodes it).
 * The last close unbinds it (iommufd_emu_device_close).
 *
 * mmap asks the engine whether that part of a region may be mapped; if it may, and the mapping
 * is MAP_SHARED (vfio-pci maps nothing private), the program gets a fresh anonymous mapping that
 * is NOT connected to the device: loads and stores never reach its registers. The engine allows
 * none today, so a VMM falls back to pread/pwrite as it does for any region without the MMAP
 * flag. A forked child calls the engine too: it tells inherited device files apart itself and
 * answers EIO for them, as for object fds (docs/fork.md). */
#include "shim.h"
#include <stdint.h>
#include <string.h>
#include <sys/eventfd.h>

/* The N of "vfioN" (the name after /dev/vfio/devices/), or -1: decimal digits without a sign
 * or a leading zero, the only names the kernel gives. */
static int64_t device_index(const char *name)
{
	if (strncmp(name, "vfio", 4))
		return -1;
	name += 4;
	if (*name < '0' || *name > '9' || (name[0] == '0' && name[1]))
		return -1;
	int64_t n = 0;
	for (; *name; name++) {
		if (*name < '0' || *name > '9' || n > INT32_MAX / 10)
			return -1;
		n = n * 10 + (*name - '0');
	}
	return n;
}

/* The checks the kernel makes before a char device's open runs: the node must exist, and an
 * existing node cannot be created or opened as a directory. Nothing can be created in the
 * emulated directory (it is root's, 0755): EACCES, as for an unprivileged user. */
static int check_open(int64_t index, int flags)
{
	if (index < 0 || index >= eng_device_count)
		return (flags & O_CREAT) ? -EACCES : -ENOENT;
	if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return -EEXIST;
	if (flags & O_DIRECTORY) /* O_TMPFILE includes it */
		return -ENOTDIR;
	return 0;
}

/* open("/dev/vfio/devices/<name>"): a new device file behind a new eventfd. The fd, or -errno.
 * Loads the engine first: it knows how many devices the machine has. */
int vfio_device_open(const char *name, int flags)
{
	int s = load_engine();
	if (s < 0)
		return s;
	int64_t index = device_index(name);
	int rc = check_open(index, flags);
	if (rc < 0)
		return rc;
	int64_t h = eng.device_open((uint32_t)index);
	if (h <= 0)
		return h < 0 ? (int)h : -EIO;
	int fd = eventfd(0, EFD_NONBLOCK | ((flags & O_CLOEXEC) ? EFD_CLOEXEC : 0));
	if (fd < 0) {
		int e = errno;
		eng.device_close(h);
		return -e;
	}
	struct emu_file *dead = NULL, *f;
	pthread_mutex_lock(&tbl_lock);
	if ((f = add_file_locked(fd, &vfio_device_kind, (uint64_t)h, &dead, &rc)))
		f->accmode = flags & O_ACCMODE;
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	if (!f) {
		REAL(close)(fd);
		eng.device_close(h);
		return rc;
	}
	return fd;
}

static int device_ioctl(struct emu_file *f, uint32_t cmd, uint64_t arg)
{
	return eng.device_ioctl((int64_t)id_of(f), cmd, arg);
}

static int64_t device_pread(struct emu_file *f, uint64_t buf, uint64_t len, uint64_t offset)
{
	return eng.device_read((int64_t)id_of(f), buf, len, offset);
}

static int64_t device_pwrite(struct emu_file *f, uint64_t buf, uint64_t len, uint64_t offset)
{
	return eng.device_write((int64_t)id_of(f), buf, len, offset);
}

static int64_t device_read(struct emu_file *f, uint64_t buf, uint64_t len)
{
	return pio_at_position(f, 0, buf, len);
}

static int64_t device_write(struct emu_file *f, uint64_t buf, uint64_t len)
{
	return pio_at_position(f, 1, buf, len);
}

/* 0: nothing for munmap to tell (the engine keeps no mapping state). */
static int64_t device_mmap(struct emu_file *f, uint64_t offset, uint64_t len, uint64_t dst, int shared)
{
	(void)dst;
	int r = eng.device_mmap((int64_t)id_of(f), offset, len);
	if (r < 0)
		return r;
	return shared ? 0 : -EINVAL;
}

static void device_release(struct emu_file *f)
{
	eng.device_close((int64_t)id_of(f));
}

const struct emu_kind vfio_device_kind = {
	.name = "vfio-device",
	.ioctl = device_ioctl,
	.read = device_read,
	.write = device_write,
	.release = device_release,
	.mmap = device_mmap,
	.pread = device_pread,
	.pwrite = device_pwrite,
};
