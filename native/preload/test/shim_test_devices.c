/* shim_test_devices.c - VFIO device fds (/dev/vfio/devices/vfioN) against the stub engine's
 * device exports: which names open, ioctl, the offset calls and the file position, mmap,
 * dups and the one device_close, lookup_iommufd_fd, fork. Pre-opened fds: shim_test_preopen.c. */
#include "shim_test.h"
#include <sys/uio.h>

#define DEV0 "/dev/vfio/devices/vfio0"
#define DEV1 "/dev/vfio/devices/vfio1"

static struct stub_devices *devices(void)
{
	void *h = dlopen(engine, RTLD_NOW | RTLD_NOLOAD);
	return h ? dlsym(h, "stub_devices") : NULL;
}

static int engine_loaded(const char *path) { return dlopen(path, RTLD_NOW | RTLD_NOLOAD) != NULL; }

/* The device handle behind fd (from the echo ioctl), or -1. */
static int64_t handle_of(int fd)
{
	struct stub_dev_echo e = { 0x1234, -1, 0 };
	return ioctl(fd, STUB_DEV_ECHO, &e) == STUB_DEV_ECHO_RESULT && e.out == ~0x1234ull ? e.handle : -1;
}

/* The bytes [offset, +len) hold the stub's pattern. */
static int pattern_at(const uint8_t *buf, size_t len, uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		if (buf[i] != STUB_DEV_BYTE(offset + i))
			return 0;
	return 1;
}

/* ---- before the engine is loaded (children) ---- */

static void child_device_first(void)
{
	int fd = open(DEV0, O_RDWR);
	CHECK(fd >= 0 && engine_loaded(engine) && handle_of(fd) > 0, "opening a device first loads the engine");
}

static void child_no_device_exports(void)
{
	const char *nodev = getenv("STUB_ENGINE_NODEV");
	setenv("IOMMUFD_EMU_ENGINE", nodev ? nodev : "/nonexistent", 1);
	CHECK(nodev && ERRNO_IS(open(DEV0, O_RDWR), ENOENT), "engine without device exports: vfio0 -> ENOENT");
	int fd = open("/dev/iommu", O_RDWR);
	CHECK(fd >= 0 && live_via(fd) == 1, "... and /dev/iommu still works with it");
}

static void child_device_without_engine(void)
{
	unsetenv("IOMMUFD_EMU_ENGINE");
	CHECK(ERRNO_IS(open(DEV0, O_RDWR), ENOENT), "device open without IOMMUFD_EMU_ENGINE -> ENOENT");
}

void device_checks_unloaded(void)
{
	in_child(child_device_first);
	in_child(child_no_device_exports);
	in_child(child_device_without_engine);
}

/* ---- with the engine loaded ---- */

static void open_checks(struct stub_devices *sd)
{
	int opens = sd->opens;
	const char *missing[] = {
		"/dev/vfio/devices/vfio2", "/dev/vfio/devices/vfio", "/dev/vfio/devices/vfio01",
		"/dev/vfio/devices/foo", "/dev/vfio/devices/", "/dev/vfio/devices/vfio99999999999",
		"/dev/vfio/devices/vfio0/", "/dev/vfio/devices/vfio-1",
	};
	int ok = 1;
	for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++)
		ok &= ERRNO_IS(open(missing[i], O_RDWR), ENOENT);
	CHECK(ok && sd->opens == opens, "no such device (N >= count, not vfioN) -> ENOENT, engine not asked");
	CHECK(ERRNO_IS(open("/dev/vfio/devices/vfio7", O_RDWR | O_CREAT, 0600), EACCES) &&
	      ERRNO_IS(open(DEV0, O_RDWR | O_CREAT | O_EXCL, 0600), EEXIST) &&
	      ERRNO_IS(open(DEV0, O_RDONLY | O_DIRECTORY), ENOTDIR) && sd->opens == opens,
	      "O_CREAT of a new name -> EACCES, O_CREAT|O_EXCL -> EEXIST, O_DIRECTORY -> ENOTDIR");

	int dirfd = open("/dev", O_RDONLY | O_DIRECTORY);
	int fds[] = {
		open(DEV0, O_RDWR | O_CREAT, 0600), open64(DEV1, O_RDWR), openat(AT_FDCWD, DEV0, O_RDWR),
		openat64(dirfd, DEV1, O_RDWR), __open_2(DEV0, O_RDWR), __open64_2(DEV1, O_RDWR),
		__openat_2(AT_FDCWD, DEV0, O_RDWR), __openat64_2(AT_FDCWD, DEV1, O_RDWR),
	};
	int n = sizeof(fds) / sizeof(fds[0]);
	int64_t seen[8];
	ok = 1;
	for (int i = 0; i < n; i++) {
		seen[i] = handle_of(fds[i]);
		ok &= fds[i] >= 0 && seen[i] > 0 && (i == 0 || seen[i] != seen[i - 1]);
	}
	CHECK(ok && sd->opens == opens + n, "every open entry point opens a device file of its own");
	int closes = sd->closes;
	for (int i = 0; i < n; i++)
		close(fds[i]);
	close(dirfd);
	CHECK(sd->closes == closes + n && sd->closed == seen[n - 1], "each close -> iommufd_emu_device_close");
	int cfd = open(DEV0, O_RDWR | O_CLOEXEC), pfd = open(DEV0, O_RDWR);
	CHECK((fcntl(cfd, F_GETFD) & FD_CLOEXEC) && !(fcntl(pfd, F_GETFD) & FD_CLOEXEC),
	      "O_CLOEXEC -> FD_CLOEXEC, none without it");
	close(cfd);
	close(pfd);
}

static void ioctl_checks(struct stub_devices *sd)
{
	int fd = open(DEV1, O_RDWR);
	struct stub_dev_echo e = { 0xfeedull, 0, 0 };
	int r = ioctl(fd, STUB_DEV_ECHO, &e);
	CHECK(r == STUB_DEV_ECHO_RESULT && e.out == ~0xfeedull && e.handle > STUB_DEV_HANDLE_BASE,
	      "ioctl -> iommufd_emu_device_ioctl, struct copied both ways, result passed on (%d)", r);
	int ioctls = sd->ioctls;
	CHECK(ERRNO_IS(ioctl(fd, _IO(';', 0x99), &e), ENOTTY) && ERRNO_IS(ioctl(fd, STUB_DEV_ECHO, bad_ptr), EFAULT) &&
	      sd->ioctls == ioctls + 2, "unknown ioctl -> ENOTTY, bad pointer -> EFAULT (the engine's)");
	CHECK(ioctl(fd, 0xffffffff00000000ul | STUB_DEV_ECHO, &e) == STUB_DEV_ECHO_RESULT, "ioctl cmd truncated to 32 bits");
	close(fd);
}

static void offset_checks(struct stub_devices *sd)
{
	int fd = open(DEV0, O_RDWR);
	int64_t h = handle_of(fd);
	uint8_t buf[64], a[8], b[24], c[16];
	size_t n = 32;
	uint64_t off = STUB_DEV_REGION(0) + 0x10;
	CHECK(pread(fd, buf, 32, (off_t)off) == 32 && pattern_at(buf, 32, off) && sd->handle == h &&
	      sd->offset == off && sd->len == 32 && sd->buf == (uintptr_t)buf,
	      "pread -> iommufd_emu_device_read(dev, buf, len, offset)");
	off = STUB_DEV_REGION(3) + 0x40;
	CHECK(pread64(fd, buf, 16, (off64_t)off) == 16 && pattern_at(buf, 16, off) &&
	      __pread_chk(fd, buf, n, (off_t)off, sizeof(buf)) == 32 && pattern_at(buf, 32, off) &&
	      __pread64_chk(fd, buf, 8, (off64_t)off, sizeof(buf)) == 8 && sd->offset == off,
	      "pread64, __pread_chk, __pread64_chk at a region's offset (region index in the high bits)");
	off = STUB_DEV_REGION(1) + STUB_DEV_REGION_SIZE - 16;
	CHECK(pread(fd, buf, 32, (off_t)off) == 16 && pattern_at(buf, 16, off), "short read at a region's end");
	int reads = sd->reads;
	CHECK(ERRNO_IS(pread(fd, buf, 8, -1), EINVAL) && ERRNO_IS(pread64(fd, buf, 8, -4096), EINVAL) &&
	      ERRNO_IS(pread(fd, buf, 8, INT64_MAX), EINVAL) && sd->reads == reads,
	      "negative offset, offset + len past 2^63 -> EINVAL, engine not asked");
	CHECK(ERRNO_IS(pread(fd, bad_ptr, 8, 0), EFAULT), "bad buffer -> EFAULT through the copy callbacks");

	off = STUB_DEV_REGION(2) + 0x80;
	CHECK(pwrite(fd, "register", 8, (off_t)off) == 8 && sd->written_len == 8 && !memcmp(sd->written, "register", 8) &&
	      sd->offset == off && pwrite64(fd, "reg64", 5, (off64_t)off + 8) == 5 && sd->offset == off + 8 &&
	      !memcmp(sd->written, "reg64", 5), "pwrite/pwrite64 -> iommufd_emu_device_write at their offsets");

	/* The vector calls: one engine call per non-empty iovec, at consecutive offsets. */
	off = STUB_DEV_REGION(2) + 0x100;
	struct iovec iov[3] = { { a, sizeof(a) }, { NULL, 0 }, { b, sizeof(b) } };
	reads = sd->reads;
	CHECK(preadv(fd, iov, 3, (off_t)off) == 32 && pattern_at(a, 8, off) && pattern_at(b, 24, off + 8) &&
	      sd->reads == reads + 2 && sd->offset == off + 8, "preadv: each iovec at its offset");
	off = STUB_DEV_REGION(0) + STUB_DEV_REGION_SIZE - 8;
	struct iovec two[2] = { { c, sizeof(c) }, { b, sizeof(b) } };
	reads = sd->reads;
	CHECK(preadv64(fd, two, 2, (off64_t)off) == 8 && sd->reads == reads + 1, "preadv stops at the first short iovec");
	struct iovec w[2] = { { "abcd", 4 }, { "efgh", 4 } };
	int writes = sd->writes;
	off = STUB_DEV_REGION(4);
	CHECK(pwritev(fd, w, 2, (off_t)off) == 8 && sd->writes == writes + 2 && sd->offset == off + 4 &&
	      !memcmp(sd->written, "efgh", 4) && pwritev64(fd, w, 1, (off64_t)off) == 4 && !memcmp(sd->written, "abcd", 4),
	      "pwritev/pwritev64: each iovec at its offset");
	CHECK(preadv2(fd, iov, 3, 0, RWF_HIPRI) == 32 && pwritev2(fd, w, 2, 0, 0) == 8 &&
	      preadv64v2(fd, iov, 3, 0, 0) == 32 && pwritev64v2(fd, w, 1, 0, RWF_HIPRI) == 4,
	      "preadv2/pwritev2 (and 64) with no flags or RWF_HIPRI");
	reads = sd->reads;
	struct iovec none = { NULL, 0 };
	volatile int too_many = 1025, negative = -1; /* opaque to the compiler's checks */
	CHECK(ERRNO_IS(preadv2(fd, iov, 3, 0, RWF_NOWAIT), EOPNOTSUPP) && ERRNO_IS(preadv(fd, iov, 3, -1), EINVAL) &&
	      ERRNO_IS(preadv2(fd, iov, 3, -2, 0), EINVAL) && ERRNO_IS(preadv(fd, iov, too_many, 0), EINVAL) &&
	      ERRNO_IS(preadv(fd, (struct iovec *)bad_ptr, 1, 0), EFAULT) && ERRNO_IS(preadv(fd, iov, negative, 0), EINVAL) &&
	      preadv(fd, &none, 1, 0) == 0 && preadv(fd, iov, 0, 0) == 0 && sd->reads == reads,
	      "vector calls: RWF_NOWAIT -> EOPNOTSUPP, bad offset or count -> EINVAL, bad iovec -> EFAULT, empty -> 0");
	close(fd);
}

static void position_checks(struct stub_devices *sd)
{
	int fd = open(DEV0, O_RDWR), other = open(DEV0, O_RDWR);
	uint8_t buf[64];
	CHECK(read(fd, buf, 16) == 16 && pattern_at(buf, 16, 0) && sd->offset == 0 &&
	      read(fd, buf, 16) == 16 && pattern_at(buf, 16, 16) && sd->offset == 16,
	      "read at the file position (0 at open), advanced by the bytes read");
	int d = dup(fd);
	CHECK(read(d, buf, 8) == 8 && sd->offset == 32 && write(fd, "01234567", 8) == 8 && sd->offset == 40 &&
	      !memcmp(sd->written, "01234567", 8) && read(d, buf, 8) == 8 && sd->offset == 48,
	      "dups share the position; write uses and advances it too");
	size_t n = 8;
	CHECK(__read_chk(fd, buf, n, sizeof(buf)) == 8 && sd->offset == 56, "fortified read uses the position");
	struct iovec iov[2] = { { buf, 4 }, { buf + 4, 4 } };
	CHECK(readv(fd, iov, 2) == 8 && sd->offset == 68 && writev(fd, iov, 1) == 4 && sd->offset == 72 &&
	      preadv2(fd, iov, 1, -1, 0) == 4 && sd->offset == 76 && pwritev2(fd, iov, 1, -1, 0) == 4 &&
	      sd->offset == 80 && read(fd, buf, 1) == 1 && sd->offset == 84,
	      "readv/writev and the *2 calls at offset -1 use and advance it");
	CHECK(pread(fd, buf, 4, 0) == 4 && read(fd, buf, 1) == 1 && sd->offset == 85, "pread leaves the position alone");
	CHECK(ERRNO_IS(lseek(fd, 0, SEEK_SET), ESPIPE) && ERRNO_IS(lseek64(fd, 0, SEEK_CUR), ESPIPE) &&
	      read(fd, buf, 1) == 1 && sd->offset == 86,
	      "lseek/lseek64 -> ESPIPE (the kernel's vfio device file has no llseek); position kept");
	CHECK(read(other, buf, 4) == 4 && sd->offset == 0, "another open of the same device has its own position");
	ssize_t r;
	int reads = sd->reads;
	while ((r = read(other, buf, 64)) == 64)
		;
	CHECK(r == (STUB_DEV_REGION_SIZE - 4) % 64 && read(other, buf, 64) == 0 && read(other, buf, 64) == 0 &&
	      sd->offset == STUB_DEV_REGION_SIZE && sd->reads == reads + (int)(STUB_DEV_REGION_SIZE - 4) / 64 + 3,
	      "reading to the region's end: a short read, then 0 without moving");
	close(d);
	close(fd);
	close(other);

	int ro = open(DEV0, O_RDONLY), wo = open(DEV0, O_WRONLY);
	int writes = sd->writes;
	reads = sd->reads;
	CHECK(ERRNO_IS(write(ro, "x", 1), EBADF) && ERRNO_IS(pwrite(ro, "x", 1, 0), EBADF) &&
	      ERRNO_IS(pwritev(ro, iov, 1, 0), EBADF) && ERRNO_IS(read(wo, buf, 1), EBADF) &&
	      ERRNO_IS(pread(wo, buf, 1, 0), EBADF) && sd->writes == writes && sd->reads == reads &&
	      read(ro, buf, 1) == 1 && write(wo, "x", 1) == 1 && handle_of(ro) > 0,
	      "O_RDONLY: no writes, O_WRONLY: no reads (EBADF, engine not asked); ioctl either way");
	CHECK(mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, ro, (off_t)STUB_DEV_MAP_OFFSET) == MAP_FAILED &&
	      errno == EACCES, "shared writable mmap of an O_RDONLY device fd -> EACCES");
	close(ro);
	close(wo);
}

static void mmap_checks(struct stub_devices *sd)
{
	int fd = open(DEV0, O_RDWR);
	int64_t h = handle_of(fd);
	int maps = sd->maps;
	void *m = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	CHECK(m == MAP_FAILED && errno == EINVAL && sd->maps == maps + 1 && sd->handle == h && sd->offset == 0 &&
	      sd->len == (uint64_t)page, "mmap of a region the engine refuses -> iommufd_emu_device_mmap's EINVAL");
	maps = sd->maps;
	CHECK(mmap(NULL, 0, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == EINVAL &&
	      mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 100) == MAP_FAILED && errno == EINVAL && sd->maps == maps,
	      "mmap of length 0 or an unaligned offset -> EINVAL, engine not asked");
	CHECK(mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, (off_t)STUB_DEV_MAP_OFFSET) == MAP_FAILED && errno == EINVAL,
	      "MAP_PRIVATE of a mappable region -> EINVAL (vfio maps only shared)");
	unsigned char *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)STUB_DEV_MAP_OFFSET);
	int ok = p != MAP_FAILED && p[0] == 0 && p[page - 1] == 0;
	if (p != MAP_FAILED)
		p[1] = 7;
	CHECK(ok && sd->offset == STUB_DEV_MAP_OFFSET && munmap(p, page) == 0,
	      "mmap the engine allows -> an anonymous shared mapping of that size");
	close(fd);
}

static void dup_checks(struct stub_devices *sd)
{
	int fd = open(DEV1, O_RDWR);
	int64_t h = handle_of(fd);
	int a = dup(fd), b = dup2(fd, 120), c = dup3(fd, 121, O_CLOEXEC), e = fcntl(fd, F_DUPFD, 220),
	    f = fcntl(fd, F_DUPFD_CLOEXEC, 320);
	int dups[] = { a, b, c, e, f }, shared = 1;
	for (int i = 0; i < 5; i++)
		shared &= handle_of(dups[i]) == h;
	CHECK(shared && b == 120 && c == 121 && e >= 220 && f >= 320, "dup/dup2/dup3/F_DUPFD/F_DUPFD_CLOEXEC share the device file");
	int closes = sd->closes;
	close(fd);
	for (int i = 0; i < 4; i++)
		close(dups[i]);
	CHECK(sd->closes == closes && handle_of(f) == h, "device file open while one dup remains");
	close(f);
	CHECK(sd->closes == closes + 1 && sd->closed == h && ERRNO_IS(ioctl(f, STUB_DEV_ECHO, NULL), EBADF),
	      "last close -> iommufd_emu_device_close once; the fd is gone");
	int x = open(DEV0, O_RDWR), y = dup(x);
	h = handle_of(x);
	int lo = x < y ? x : y, hi = x < y ? y : x;
	CHECK(close_range(lo, hi, 0) == 0 && sd->closes == closes + 2 && sd->closed == h, "close_range closes it too");
	int nul = open("/dev/null", O_RDWR);
	x = open(DEV0, O_RDWR);
	h = handle_of(x);
	CHECK(dup2(nul, x) == x && sd->closes == closes + 3 && sd->closed == h, "dup2 over a device fd closes it");
	close(x);
	close(nul);
}

static void lookup_checks(int probe)
{
	struct stub_info i;
	ioctl(probe, STUB_INFO, &i);
	int fd = open(DEV0, O_RDWR), pdup = dup(probe), nul = open("/dev/null", O_RDONLY);
	struct stub_dev_bind bind = { probe, 0, 0 };
	CHECK(ioctl(fd, STUB_DEV_BIND, &bind) == 0 && bind.ctx == i.handle,
	      "lookup_iommufd_fd(iommufd) inside a device ioctl -> its context handle");
	int64_t (*look)(int) = NULL;
	void *h = dlopen(engine, RTLD_NOW | RTLD_NOLOAD);
	const struct iommufd_emu_host *(*get)(void) = h ? dlsym(h, "stub_engine_host") : NULL;
	if (get && get())
		look = get()->lookup_iommufd_fd;
	uint64_t cookie = 0x1d0;
	int ofd = ioctl(probe, STUB_OBJECT, &cookie);
	CHECK(look && look(pdup) == i.handle && look(fd) == -1 && look(nul) == -1 && look(ofd) == -1 &&
	      look(-1) == -1 && look(1 << 30) == -1, "lookup_iommufd_fd: a dup too; device, object, plain and bad fds -> -1");
	close(pdup);
	close(ofd);
	close(nul);
	close(fd);
}

static void child_inherited(void);
static int inherited_fd;

static void fork_checks(struct stub_devices *sd)
{
	inherited_fd = open(DEV1, O_RDWR);
	int64_t h = handle_of(inherited_fd);
	in_child(child_inherited);
	CHECK(handle_of(inherited_fd) == h, "the parent's device fd works after the child used and closed it");
	int closes = sd->closes;
	close(inherited_fd);
	CHECK(sd->closes == closes + 1, "and closes once");
}

static void child_inherited(void)
{
	struct stub_devices *sd = devices();
	uint8_t buf[8];
	struct stub_dev_echo e = { 1, 0, 0 };
	int closes = sd->closes;
	CHECK(ERRNO_IS(ioctl(inherited_fd, STUB_DEV_ECHO, &e), EIO) && ERRNO_IS(pread(inherited_fd, buf, 8, 0), EIO) &&
	      ERRNO_IS(read(inherited_fd, buf, 8), EIO) && ERRNO_IS(write(inherited_fd, buf, 8), EIO),
	      "forked child: an inherited device fd reaches the engine, which answers EIO");
	int own = open(DEV0, O_RDWR);
	CHECK(close(inherited_fd) == 0 && sd->closes == closes && handle_of(own) > 0,
	      "its close succeeds and the engine ignores it; the child's own device works");
	close(own);
}

void device_checks(int probe)
{
	struct stub_devices *sd = devices();
	CHECK(sd != NULL, "stub engine exports its device bookkeeping");
	if (!sd)
		return;
	open_checks(sd);
	ioctl_checks(sd);
	offset_checks(sd);
	position_checks(sd);
	mmap_checks(sd);
	dup_checks(sd);
	lookup_checks(probe);
	fork_checks(sd);
}
