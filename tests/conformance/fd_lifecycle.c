/* fd_lifecycle.c - what an open file of /dev/iommu is: each open is its own
 * context, dup() shares it, the last close frees it, and a forked child can
 * open and use a context of its own. */
#define _GNU_SOURCE
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "check.h"
#include "iommufd_helpers.h"

#define PAGE 4096UL

/* Exit status of a child, or -1 if it was killed or outlived the timeout. */
static int wait_child(pid_t pid, int seconds)
{
	for (int i = 0; i < seconds * 100; i++) {
		int status;
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

int main(void)
{
	int a = open_iommufd();
	int b = open_iommufd();
	CHECK(a != b, "two opens give two fds (%d, %d)", a, b);
	uint32_t a1 = ioas_alloc(a), a2 = ioas_alloc(a), b1 = ioas_alloc(b);
	CHECK(a1 == 1 && a2 == 2 && b1 == 1, "each context numbers its own objects from 1 (%u %u %u)", a1, a2, b1);
	CHECK_ERR(iova_ranges(b, a2, NULL, 0, NULL, NULL), ENOENT); /* a's id 2 does not exist in b */
	CHECK_ERR(destroy(b, b1), 0);
	CHECK_ERR(iova_ranges(a, a1, NULL, 0, NULL, NULL), EMSGSIZE); /* a's id 1 survived */

	int c = dup(a);
	CHECK(c >= 0, "dup gives fd %d", c);
	uint32_t c3 = ioas_alloc(c);
	CHECK(c3 == 3, "an IOAS made through the dup is the shared context's id 3 (%u)", c3);
	CHECK_ERR(iova_ranges(a, c3, NULL, 0, NULL, NULL), EMSGSIZE);
	int d = fcntl(a, F_DUPFD_CLOEXEC, 100);
	CHECK(d >= 100, "F_DUPFD_CLOEXEC gives fd %d", d);
	CHECK_ERR(destroy(d, a2), 0);
	CHECK_ERR(destroy(a, a2), ENOENT);

	CHECK_ERR(close(a), 0);
	CHECK_ERR(iova_ranges(c, a1, NULL, 0, NULL, NULL), EMSGSIZE); /* alive while any fd remains */
	CHECK_ERR(close(d), 0);
	CHECK_ERR(close(c), 0);
	CHECK_ERR(iova_ranges(c, a1, NULL, 0, NULL, NULL), EBADF);
	CHECK_ERR(ioctl(a, IOMMU_IOAS_ALLOC, NULL), EBADF);

	int e = open_iommufd();
	uint32_t e1 = ioas_alloc(e);
	CHECK(e1 == 1, "a reopened /dev/iommu is a fresh context (first id %u)", e1);
	CHECK_ERR(iova_ranges(e, 3, NULL, 0, NULL, NULL), ENOENT);

	/* dup2 over an emulated fd drops that reference, like close. */
	int f = open_iommufd();
	CHECK(dup2(e, f) == f, "dup2 onto another iommufd");
	CHECK_ERR(iova_ranges(f, e1, NULL, 0, NULL, NULL), EMSGSIZE);
	CHECK_ERR(close(f), 0);

	/* A forked child opens its own context and uses it, while the parent holds one. */
	char *buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		int cfd = open("/dev/iommu", O_RDWR);
		if (cfd < 0)
			_exit(10);
		uint32_t id = ioas_alloc(cfd);
		if (id != 1)
			_exit(11);
		uint64_t iova = 0;
		if (ioas_map(cfd, id, buf, 4 * PAGE, MAP_RW, &iova))
			_exit(12);
		uint64_t unmapped = 0;
		if (ioas_unmap(cfd, id, 0, UINT64_MAX, &unmapped) || unmapped != 4 * PAGE)
			_exit(13);
		if (close(cfd))
			_exit(14);
		_exit(0);
	}
	int status = wait_child(pid, 30);
	CHECK(status == 0, "a forked child opened, used and closed its own context (status %d)", status);
	CHECK_ERR(iova_ranges(e, e1, NULL, 0, NULL, NULL), EMSGSIZE); /* the parent's is untouched */
	CHECK_ERR(close(e), 0);
	CHECK_ERR(close(b), 0);
	return check_done("fd_lifecycle");
}
