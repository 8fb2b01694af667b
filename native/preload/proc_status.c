/* proc_status.c - /proc/<pid>/status as the emulated kernel would show it.
 *
 * The kernel counts the pages iommufd pins in the owning process: every pinned page in VmPin,
 * and in process accounting mode also in VmLck; IOMMU_IOAS_CHANGE_PROCESS moves the charge.
 * Under the emulator those pins are the engine's, so a program reading its status (or a forked
 * child reading its parent's, as the kernel selftest does) gets the real file with those two
 * lines raised by the engine's figures, everything else byte for byte as the kernel wrote it.
 * Served as a sealed read-only copy in a memfd, only once the engine is loaded and only for a
 * process the engine charged or served (iommufd_emu_process_pins); anything else is the real
 * file. Paths: /proc/self/status, /proc/thread-self/status, /proc/<pid>/status (absolute), via
 * open()/openat() and fopen() (glibc's fopen opens internally, past the PLT).
 */
#include "shim.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define STATUS_MAX (64 * 1024) /* a status file is about 1.5 KiB */

/* The process a status path names, or 0 when `p` is no status path. */
static pid_t status_pid(const char *p)
{
	if (strncmp(p, "/proc/", 6))
		return 0;
	p += 6;
	pid_t pid;
	if (!strncmp(p, "self/", 5)) {
		pid = getpid();
		p += 5;
	} else if (!strncmp(p, "thread-self/", 12)) {
		pid = getpid(); /* VmPin and VmLck belong to the process, not the thread */
		p += 12;
	} else {
		if (*p < '1' || *p > '9')
			return 0;
		char *end;
		long v = strtol(p, &end, 10);
		if (*end != '/' || v > INT_MAX)
			return 0;
		pid = (pid_t)v;
		p = end + 1;
	}
	return strcmp(p, "status") ? 0 : pid;
}

/* Reads the whole real file into buf; its length, or -1. */
static ssize_t read_real(const char *path, char *buf, size_t cap)
{
	int fd = REAL(open)(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n;
	while (len < cap && (n = REAL(read)(fd, buf + len, cap - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			len = (size_t)-1;
			break;
		}
		len += (size_t)n;
	}
	int saved = errno;
	REAL(close)(fd);
	errno = saved;
	return (ssize_t)len;
}

/* Copies `in` to `out` with the VmPin and VmLck values raised by the engine's figures (kB, as
 * the kernel prints them: the label, a tab, the value right-aligned in 8, " kB"). */
static size_t rewrite(const char *in, size_t len, char *out, size_t cap, const struct iommufd_emu_pins *pins)
{
	unsigned long long kb_per_page = (unsigned long long)sysconf(_SC_PAGESIZE) / 1024;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		const char *line = in + i;
		const char *nl = memchr(line, '\n', len - i);
		size_t line_len = nl ? (size_t)(nl - line) + 1 : len - i;
		uint64_t add = !strncmp(line, "VmPin:", 6) ? pins->pinned_pages
			     : !strncmp(line, "VmLck:", 6) ? pins->locked_pages : UINT64_MAX;
		int n = -1;
		if (add != UINT64_MAX && nl) {
			unsigned long long real = strtoull(line + 6, NULL, 10);
			n = snprintf(out + o, cap - o, "%.6s\t%8llu kB\n", line, real + add * kb_per_page);
		}
		if (n < 0) { /* any other line, or one we could not rewrite: as it was */
			if (line_len > cap - o)
				return o;
			memcpy(out + o, line, line_len);
			n = (int)line_len;
		}
		o += (size_t)n < cap - o ? (size_t)n : cap - o;
		i += line_len;
	}
	return o;
}

/* A read-only fd holding `len` bytes of `text` (O_CLOEXEC as asked), or -errno. */
static int serve(const char *text, size_t len, int flags)
{
	int mfd = memfd_create("proc-status", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return -errno;
	int rc = 0;
	for (size_t done = 0; done < len && !rc;) {
		ssize_t w = REAL(write)(mfd, text + done, len - done);
		if (w < 0 && errno != EINTR)
			rc = -errno;
		else if (w > 0)
			done += (size_t)w;
	}
	if (!rc && fcntl(mfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0)
		rc = -errno;
	int fd = -1;
	if (!rc) {
		/* Reopened read-only, at offset 0, as the real file would be. */
		char self[40];
		snprintf(self, sizeof(self), "/proc/self/fd/%d", mfd);
		fd = REAL(open)(self, O_RDONLY | (flags & O_CLOEXEC));
		if (fd < 0)
			rc = -errno;
	}
	REAL(close)(mfd);
	return rc ? rc : fd;
}

int proc_status_open(const char *path, int flags, int *fd)
{
	if (atomic_load_explicit(&eng_state, memory_order_acquire) != 1 || !path || path[0] != '/')
		return 0;
	pid_t pid = status_pid(path);
	if (!pid || (flags & O_ACCMODE) != O_RDONLY)
		return 0;
	struct iommufd_emu_pins pins;
	if (eng.process_pins(pid, &pins) < 0)
		return 0;
	int saved = errno;
	char *in = malloc(STATUS_MAX), *out = malloc(STATUS_MAX + 256);
	ssize_t len = in && out ? read_real(path, in, STATUS_MAX) : -1;
	if (len < 0) {
		free(in);
		free(out);
		errno = saved;
		return 0; /* the real open reports why */
	}
	size_t n = rewrite(in, (size_t)len, out, STATUS_MAX + 256, &pins);
	int r = serve(out, n, flags);
	free(in);
	free(out);
	if (r < 0) {
		errno = saved;
		return 0;
	}
	*fd = heal(r);
	errno = saved;
	return 1;
}

static FILE *status_fopen(const char *path, const char *mode, int *handled)
{
	*handled = 0;
	if (!mode || mode[0] != 'r' || strchr(mode, '+'))
		return NULL;
	int fd;
	if (!proc_status_open(path, O_RDONLY | (strchr(mode, 'e') ? O_CLOEXEC : 0), &fd))
		return NULL;
	*handled = 1;
	FILE *f = fdopen(fd, mode);
	if (!f) {
		int saved = errno;
		REAL(close)(fd);
		errno = saved;
	}
	return f;
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	int handled;
	FILE *f = status_fopen(path, mode, &handled);
	char debugfs[PATH_MAX];
	const char *real = handled ? NULL : fault_debugfs_path(path, debugfs, sizeof(debugfs));
	return handled ? f : REAL(fopen)(real ? real : path, mode);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	int handled;
	FILE *f = status_fopen(path, mode, &handled);
	char debugfs[PATH_MAX];
	const char *real = handled ? NULL : fault_debugfs_path(path, debugfs, sizeof(debugfs));
	return handled ? f : REAL(fopen64)(real ? real : path, mode);
}
