/* shim_test_preopen.c - IOMMUFD_EMU_FDS: the shim's constructor opens each N=PATH at fd N
 * before main. The test execs itself with the variable set (main runs preopened_main) and
 * checks what the new image finds, or how it fails. */
#include "shim_test.h"
#include <sys/stat.h>

#define RO_FILE_TEXT "read-only file\n"

/* Runs this test binary again with IOMMUFD_EMU_FDS=fds and `arg`; returns the wait status and
 * what it wrote to stderr, less one final newline. */
static int exec_self(const char *fds, const char *arg, char *err, size_t cap)
{
	int pipefd[2];
	if (pipe(pipefd) < 0)
		return -1;
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		dup2(pipefd[1], 2);
		close_range(3, ~0u, 0); /* the new image starts with stdio alone */
		setenv("IOMMUFD_EMU_FDS", fds, 1);
		execl("/proc/self/exe", "shim_test", arg, (char *)NULL);
		_exit(126);
	}
	close(pipefd[1]);
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap && (n = read(pipefd[0], err + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	err[len] = 0;
	if (len && err[len - 1] == '\n') /* one line: the caller checks for one more */
		err[len - 1] = 0;
	close(pipefd[0]);
	int st = -1;
	waitpid(p, &st, 0);
	return st;
}

static int one_line(const char *s) { return *s && !strchr(s, '\n'); }

static int64_t ctx_of(int fd)
{
	struct stub_info i;
	return ioctl(fd, STUB_INFO, &i) == 0 ? i.handle : -1;
}

/* In the exec'd image: fds 3, 5, 7 and 9 as preopen_checks asked. The exit status is the
 * number of failed checks. */
int preopened_main(void)
{
	struct stub_dev_echo e0 = { 1, 0, 0 }, e1 = { 2, 0, 0 };
	CHECK(getenv("IOMMUFD_EMU_FDS") == NULL, "[pre-opened] the variable is gone before main");
	CHECK(ctx_of(5) > 0, "[pre-opened] fd 5 is an emulated /dev/iommu");
	CHECK(ioctl(7, STUB_DEV_ECHO, &e1) == STUB_DEV_ECHO_RESULT && ioctl(3, STUB_DEV_ECHO, &e0) == STUB_DEV_ECHO_RESULT &&
	      e0.handle > 0 && e1.handle > 0 && e0.handle != e1.handle, "[pre-opened] fds 3 and 7 are device files of their own");
	struct stub_dev_bind b = { 5, 0, 0 };
	CHECK(ioctl(7, STUB_DEV_BIND, &b) == 0 && b.ctx == ctx_of(5), "[pre-opened] the device finds fd 5's context");
	char buf[64] = { 0 };
	CHECK(read(9, buf, sizeof(buf) - 1) == (ssize_t)strlen(RO_FILE_TEXT) && !strcmp(buf, RO_FILE_TEXT),
	      "[pre-opened] fd 9 is the real file, opened read-only where it cannot be written");
	int ok = 1;
	for (int fd = 3; fd <= 9; fd += 2)
		ok &= fcntl(fd, F_GETFD) == 0;
	CHECK(ok, "[pre-opened] no FD_CLOEXEC on any of them");
	CHECK(fcntl(4, F_GETFD) == -1 && fcntl(6, F_GETFD) == -1 && fcntl(8, F_GETFD) == -1,
	      "[pre-opened] no temporary fd left behind");
	fflush(stdout);
	return res->fail;
}

void preopen_checks(void)
{
	char path[] = "/tmp/shim_test_ro.XXXXXX", fds[256], err[4096];
	int t = mkstemp(path);
	int ok = t >= 0 && write(t, RO_FILE_TEXT, strlen(RO_FILE_TEXT)) == (ssize_t)strlen(RO_FILE_TEXT);
	close(t);
	ok = ok && chmod(path, 0444) == 0;
	snprintf(fds, sizeof(fds), "5=/dev/iommu,7=/dev/vfio/devices/vfio1,9=%s,3=/dev/vfio/devices/vfio0", path);
	int st = exec_self(fds, "--pre-opened", err, sizeof(err));
	CHECK(ok && WIFEXITED(st) && WEXITSTATUS(st) == 0, "IOMMUFD_EMU_FDS: the program starts with its fds in place (status %#x)", st);
	unlink(path);

	st = exec_self("4=/dev/iommu,6=/dev/vfio/devices/vfio9", "--pre-opened", err, sizeof(err));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 127 && strstr(err, "fd 6") && strstr(err, "/dev/vfio/devices/vfio9") &&
	      strstr(err, strerror(ENOENT)) && one_line(err),
	      "a failed open: one line naming the fd, path and error on stderr, status 127 (%s)", err);
	st = exec_self("x=/dev/iommu", "--pre-opened", err, sizeof(err));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 127 && strstr(err, "\"x=/dev/iommu\""), "a malformed entry -> 127 (%s)", err);
	st = exec_self("4=/dev/iommu,4=/dev/null", "--pre-opened", err, sizeof(err));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 127 && strstr(err, "fd 4: given twice"), "an fd given twice -> 127 (%s)", err);
}
