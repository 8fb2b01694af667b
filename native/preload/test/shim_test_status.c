/* shim_test_status.c - /proc/<pid>/status: once the engine is loaded, a process it knows reads
 * VmPin and VmLck raised by the engine's figures and every other line as the kernel wrote it;
 * anything else (engine not loaded, a process it does not know, a write open) is the real file. */
#include "shim_test.h"

static struct stub_pins *stub_pins_of(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	return h ? dlsym(h, "stub_pins") : NULL;
}

/* The whole of an open fd's file (NUL-terminated), read with raw syscalls. */
static size_t slurp(int fd, char *buf, size_t cap)
{
	size_t len = 0;
	long n;
	while (len + 1 < cap && (n = syscall(SYS_read, fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = 0;
	return len;
}

/* The real file, past the shim (a raw openat). */
static size_t real_status(const char *path, char *buf, size_t cap)
{
	int fd = (int)syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	size_t n = fd >= 0 ? slurp(fd, buf, cap) : 0;
	if (fd >= 0)
		syscall(SYS_close, fd);
	return n;
}

/* The value on the line labelled `label` ("VmPin:"), or -1. */
static long field(const char *text, const char *label)
{
	const char *p = strstr(text, label);
	return p && (p == text || p[-1] == '\n') ? strtol(p + strlen(label), NULL, 10) : -1;
}

/* The line labelled `label`, copied to out (without its newline). */
static const char *line_of(const char *text, const char *label, char *out, size_t cap)
{
	const char *p = strstr(text, label);
	size_t n = p ? strcspn(p, "\n") : 0;
	n = n < cap - 1 ? n : cap - 1;
	memcpy(out, p ? p : "", n);
	out[n] = 0;
	return out;
}

/* Same lines in the same order by label, the stable ones byte for byte. */
static int same_shape(const char *a, const char *b)
{
	const char *stable[] = { "Name:", "Tgid:", "Pid:", "PPid:", "Uid:", "Gid:", "Threads:" };
	for (size_t i = 0; i < sizeof(stable) / sizeof(stable[0]); i++) {
		char la[256], lb[256];
		if (strcmp(line_of(a, stable[i], la, sizeof(la)), line_of(b, stable[i], lb, sizeof(lb))))
			return 0;
	}
	for (;;) {
		size_t ka = strcspn(a, ":\n"), kb = strcspn(b, ":\n");
		if (ka != kb || memcmp(a, b, ka))
			return 0;
		a = strchr(a, '\n');
		b = strchr(b, '\n');
		if (!a || !b)
			return !a && !b;
		a++, b++;
		if (!*a || !*b)
			return !*a && !*b;
	}
}

/* Whether fd is one of the shim's copies rather than the proc file. */
static int is_copy(int fd)
{
	char link[64], target[256];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = 0;
	return strstr(target, "memfd:") != NULL;
}

void status_checks_unloaded(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	CHECK(f && !is_copy(fileno(f)), "engine not loaded: fopen(/proc/self/status) is the real file");
	if (f)
		fclose(f);
	int fd = open("/proc/self/status", O_RDONLY);
	CHECK(fd >= 0 && !is_copy(fd), "engine not loaded: open(/proc/self/status) is the real file");
	close(fd);
}

void status_checks(void)
{
	struct stub_pins *stub = stub_pins_of(engine);
	CHECK(stub != NULL, "stub engine exports stub_pins");
	if (!stub)
		return;
	static char real[65536], got[65536];
	long kb = page / 1024;
	real_status("/proc/self/status", real, sizeof(real));
	long real_pin = field(real, "VmPin:"), real_lck = field(real, "VmLck:");

	stub->pid = getpid();
	stub->pins.pinned_pages = 3;
	stub->pins.locked_pages = 2;
	FILE *f = fopen("/proc/self/status", "r");
	size_t n = f ? fread(got, 1, sizeof(got) - 1, f) : 0;
	got[n] = 0;
	char vmpin[64], want[64];
	snprintf(want, sizeof(want), "VmPin:\t%8ld kB", real_pin + 3 * kb);
	CHECK(f && !strcmp(line_of(got, "VmPin:", vmpin, sizeof(vmpin)), want),
	      "fopen(/proc/self/status): \"%s\" (real %ld kB + 3 pages)", vmpin, real_pin);
	CHECK(field(got, "VmLck:") == real_lck + 2 * kb, "VmLck raised by 2 pages (%ld kB)", field(got, "VmLck:"));
	CHECK(same_shape(got, real), "every other line as the kernel's, in its order");
	if (f)
		fclose(f);

	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/status", getpid());
	const char *paths[] = { "/proc/self/status", "/proc/thread-self/status", path };
	int ok = 1;
	for (int i = 0; i < 3; i++) {
		int fds[] = { open(paths[i], O_RDONLY), openat(AT_FDCWD, paths[i], O_RDONLY | O_CLOEXEC),
			      open64(paths[i], O_RDONLY), __open_2(paths[i], O_RDONLY) };
		for (int j = 0; j < 4; j++) {
			ok &= fds[j] >= 0 && is_copy(fds[j]) && slurp(fds[j], got, sizeof(got)) > 0 &&
			      field(got, "VmPin:") == real_pin + 3 * kb;
			close(fds[j]);
		}
	}
	CHECK(ok, "self, thread-self and /proc/<own pid>/status through open/openat/open64/__open_2");

	int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC) && ERRNO_IS(write(fd, "x", 1), EBADF) &&
	      lseek(fd, 0, SEEK_CUR) == 0, "the copy is read-only, at offset 0, O_CLOEXEC as asked");
	close(fd);
	fd = open("/proc/self/status", O_RDONLY);
	CHECK(fd >= 0 && !(fcntl(fd, F_GETFD) & FD_CLOEXEC), "no O_CLOEXEC, no FD_CLOEXEC");
	close(fd);

	snprintf(path, sizeof(path), "/proc/%d/status", getppid());
	fd = open(path, O_RDONLY);
	CHECK(fd >= 0 && !is_copy(fd), "a process the engine does not know: the real file");
	close(fd);
	fd = open("/proc/self/stat", O_RDONLY);
	CHECK(fd >= 0 && !is_copy(fd), "other /proc files: the real file");
	close(fd);
	fd = open("/proc/self/status", O_WRONLY);
	CHECK(!is_copy(fd), "a write open goes to the kernel (fd %d, errno %d)", fd, errno);
	if (fd >= 0)
		close(fd);

	stub->pid = 0;
	f = fopen("/proc/self/status", "r");
	CHECK(f && !is_copy(fileno(f)), "engine loaded but the process unknown: the real file");
	if (f)
		fclose(f);
}
