/* wrap_pio.c - pread/pwrite, the vector calls (readv/writev, preadv/pwritev and their *2
 * forms) and lseek, for kinds with offsets (struct emu_kind.pread: VFIO device files). Other fds,
 * emulated or not, go to libc as before. The rules are the kernel's for a character device
 * whose driver has read/write but no read_iter and no llseek (vfio's device file):
 *  - access mode (EBADF), a negative offset (EINVAL), counts clamped to MAX_RW_COUNT;
 *  - the vector calls loop over the iovecs, one driver call each, stopping at the first short
 *    or failed one (bytes already moved win over the error); RWF_* flags other than
 *    RWF_HIPRI are EOPNOTSUPP;
 *  - read/write/readv/writev (and the *2 calls with offset -1) use the file position, shared by
 *    dups and advanced by the bytes moved; lseek is ESPIPE, so only they move it. */
#include "shim.h"
#include <limits.h>
#include <stdlib.h>
#include <sys/uio.h>

#define MAX_RW_COUNT ((uint64_t)(INT_MAX & ~4095))
#define MAX_IOV 1024 /* UIO_MAXIOV */

static int can(struct emu_file *f, int write)
{
	int mode = f->accmode;
	return write ? mode == O_WRONLY || mode == O_RDWR : mode == O_RDONLY || mode == O_RDWR;
}

/* The kernel's rw_verify_area for a file without unsigned offsets. */
static int64_t verify_area(int64_t pos, uint64_t len)
{
	if (pos < 0 || (int64_t)len < 0 || (uint64_t)pos + len > (uint64_t)INT64_MAX)
		return -EINVAL;
	return 0;
}

/* One read or write of len bytes at pos (>= 0): bytes moved or -errno. */
static int64_t transfer(struct emu_file *f, int write, uint64_t buf, uint64_t len, int64_t pos)
{
	if (!can(f, write))
		return -EBADF;
	int64_t r = verify_area(pos, len);
	if (r < 0)
		return r;
	if (len > MAX_RW_COUNT)
		len = MAX_RW_COUNT;
	const struct emu_kind *k = kind_of(f);
	return write ? k->pwrite(f, buf, len, (uint64_t)pos) : k->pread(f, buf, len, (uint64_t)pos);
}

int64_t pio_at_position(struct emu_file *f, int write, uint64_t buf, uint64_t len)
{
	int64_t pos = atomic_load_explicit(&f->pos, memory_order_relaxed);
	int64_t n = transfer(f, write, buf, len, pos);
	if (n > 0) /* racing calls may both start at pos: the kernel's f_pos is no better */
		atomic_store_explicit(&f->pos, pos + n, memory_order_relaxed);
	return n;
}

/* The program's iovec array, copied fault-safely and clamped as import_iovec does: the count
 * (0 .. MAX_IOV), or -errno. *total gets the clamped sum. */
static int copy_iov(const struct iovec *user, int cnt, struct iovec *iov, uint64_t *total)
{
	if (cnt < 0 || cnt > MAX_IOV)
		return -EINVAL;
	if (host.copy_from_user(iov, (uint64_t)(uintptr_t)user, (uint64_t)cnt * sizeof(*iov)))
		return -EFAULT;
	uint64_t sum = 0;
	for (int i = 0; i < cnt; i++) {
		if ((int64_t)iov[i].iov_len < 0)
			return -EINVAL;
		if (iov[i].iov_len > MAX_RW_COUNT - sum)
			iov[i].iov_len = MAX_RW_COUNT - sum;
		sum += iov[i].iov_len;
	}
	*total = sum;
	return cnt;
}

/* preadv2/pwritev2 (pos -1: at the file position): bytes moved or -errno. */
static int64_t vector(struct emu_file *f, int write, const struct iovec *user, int cnt, int64_t pos, int flags)
{
	if (!can(f, write))
		return -EBADF;
	struct iovec small[8], *iov = small;
	uint64_t total = 0;
	if (cnt > 8 && cnt <= MAX_IOV && !(iov = malloc((size_t)cnt * sizeof(*iov))))
		return -ENOMEM;
	int at_position = pos == -1;
	if (at_position)
		pos = atomic_load_explicit(&f->pos, memory_order_relaxed);
	int64_t r = copy_iov(user, cnt, iov, &total);
	if (r >= 0 && total)
		r = verify_area(pos, total);
	if (r >= 0 && total && (flags & ~RWF_HIPRI))
		r = -EOPNOTSUPP;
	int64_t done = 0;
	for (int i = 0; r >= 0 && total && i < cnt; i++) {
		if (!iov[i].iov_len)
			continue;
		r = transfer(f, write, (uint64_t)(uintptr_t)iov[i].iov_base, iov[i].iov_len, pos + done);
		if (r > 0)
			done += r;
		if (r < (int64_t)iov[i].iov_len)
			break;
	}
	if (iov != small)
		free(iov);
	if (done && at_position)
		atomic_store_explicit(&f->pos, pos + done, memory_order_relaxed);
	return done ? done : r < 0 ? r : 0;
}

/* The record behind fd when its kind has offsets, else NULL: the call goes to libc. */
static struct emu_file *pio_file(int fd)
{
	struct emu_file *f = lookup(fd);
	return unlikely(f) && kind_of(f)->pread ? f : NULL;
}

#define BUF(p) ((uint64_t)(uintptr_t)(p))

/* pread/pwrite: a negative offset is EINVAL before anything else. */
static ssize_t at_offset(struct emu_file *f, int write, uint64_t buf, size_t n, int64_t off)
{
	return libc_result(off < 0 ? -EINVAL : transfer(f, write, buf, n, off));
}

/* preadv/pwritev take an offset >= 0; the *2 forms also -1, the file position. */
static ssize_t vector_at(struct emu_file *f, int write, const struct iovec *iov, int cnt,
			 int64_t off, int flags, int v2)
{
	if (off < 0 && !(v2 && off == -1))
		return libc_result(-EINVAL);
	return libc_result(vector(f, write, iov, cnt, off, flags));
}

EXPORT ssize_t pread(int fd, void *buf, size_t n, off_t off)
{
	struct emu_file *f = pio_file(fd);
	return f ? at_offset(f, 0, BUF(buf), n, off) : REAL(pread)(fd, buf, n, off);
}

EXPORT ssize_t pread64(int fd, void *buf, size_t n, off64_t off)
{
	struct emu_file *f = pio_file(fd);
	return f ? at_offset(f, 0, BUF(buf), n, off) : REAL(pread64)(fd, buf, n, off);
}

/* _FORTIFY_SOURCE's pread(): glibc's own never reaches ours. An overflow is left to the real
 * one to report. */
EXPORT ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	struct emu_file *f = pio_file(fd);
	if (f && n <= buflen)
		return at_offset(f, 0, BUF(buf), n, off);
	return REAL(__pread_chk)(fd, buf, n, off, buflen);
}

EXPORT ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen)
{
	struct emu_file *f = pio_file(fd);
	if (f && n <= buflen)
		return at_offset(f, 0, BUF(buf), n, off);
	return REAL(__pread64_chk)(fd, buf, n, off, buflen);
}

EXPORT ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
	struct emu_file *f = pio_file(fd);
	return f ? at_offset(f, 1, BUF(buf), n, off) : REAL(pwrite)(fd, buf, n, off);
}

EXPORT ssize_t pwrite64(int fd, const void *buf, size_t n, off64_t off)
{
	struct emu_file *f = pio_file(fd);
	return f ? at_offset(f, 1, BUF(buf), n, off) : REAL(pwrite64)(fd, buf, n, off);
}

EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	struct emu_file *f = pio_file(fd);
	return f ? libc_result(vector(f, 0, iov, cnt, -1, 0)) : REAL(readv)(fd, iov, cnt);
}

EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	struct emu_file *f = pio_file(fd);
	return f ? libc_result(vector(f, 1, iov, cnt, -1, 0)) : REAL(writev)(fd, iov, cnt);
}

EXPORT ssize_t preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct emu_file *f = pio_file(fd);
	return f ? vector_at(f, 0, iov, cnt, off, 0, 0) : REAL(preadv)(fd, iov, cnt, off);
}

EXPORT ssize_t preadv64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	struct emu_file *f = pio_file(fd);
	return f ? vector_at(f, 0, iov, cnt, off, 0, 0) : REAL(preadv64)(fd, iov, cnt, off);
}

EXPORT ssize_t pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
	struct emu_file *f = pio_file(fd);
	return f ? vector_at(f, 1, iov, cnt, off, 0, 0) : REAL(pwritev)(fd, iov, cnt, off);
}

EXPORT ssize_t pwritev64(int fd, const struct iovec *iov, int cnt, off64_t off)
{
	struct emu_file *f = pio_file(fd);
	return f ? vector_at(f, 1, iov, cnt, off, 0, 0) : REAL(pwritev64)(fd, iov, cnt, off);
}

EXPORT ssize_t preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	struct emu_file *f = pio_file(fd);
	return f ? vector_at(f, 0, iov, cnt, off, flags, 1) : REAL(preadv2)(fd, iov, cnt, off, flags);
}

EXPORT ssize_t preadv64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	struct emu_file *f = pio_file(fd);
	return f ? vector_at(f, 0, iov, cnt, off, flags, 1) : REAL(preadv64v2)(fd, iov, cnt, off, flags);
}

EXPORT ssize_t pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
	struct emu_file *f = pio_file(fd);
	return f ? vector_at(f, 1, iov, cnt, off, flags, 1) : REAL(pwritev2)(fd, iov, cnt, off, flags);
}

EXPORT ssize_t pwritev64v2(int fd, const struct iovec *iov, int cnt, off64_t off, int flags)
{
	struct emu_file *f = pio_file(fd);
	return f ? vector_at(f, 1, iov, cnt, off, flags, 1) : REAL(pwritev64v2)(fd, iov, cnt, off, flags);
}

EXPORT off_t lseek(int fd, off_t off, int whence)
{
	if (pio_file(fd))
		return libc_result(-ESPIPE);
	return REAL(lseek)(fd, off, whence);
}

EXPORT off64_t lseek64(int fd, off64_t off, int whence)
{
	if (pio_file(fd))
		return libc_result(-ESPIPE);
	return REAL(lseek64)(fd, off, whence);
}
