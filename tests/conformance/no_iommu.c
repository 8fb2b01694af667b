/* no_iommu.c - a program that never opens /dev/iommu runs unchanged under the
 * shim: files, pipes, dup, ioctl on /dev/null (ENOTTY from the real kernel),
 * and the engine is never even loaded. */
#define _GNU_SOURCE
#include <sys/stat.h>
#include "check.h"
#include "iommufd_uapi.h"
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

static int maps_mention(const char *what)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int found = 0;
	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

int main(void)
{
	char path[] = "/tmp/no_iommu_XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0, "mkstemp");
	CHECK(write(fd, "hello", 5) == 5, "write to a file");
	CHECK(lseek(fd, 0, SEEK_SET) == 0, "lseek");
	char got[8] = { 0 };
	CHECK(read(fd, got, sizeof(got)) == 5 && !memcmp(got, "hello", 5), "read it back");
	int copy = dup(fd);
	CHECK(copy >= 0 && pread(copy, got, 5, 0) == 5, "dup and pread");
	CHECK_ERR(close(copy), 0);
	CHECK_ERR(close(fd), 0);
	CHECK_ERR(unlink(path), 0);

	int null = open("/dev/null", O_RDWR);
	struct iommu_destroy d = { sizeof(d), 1 };
	CHECK_ERR(ioctl(null, IOMMU_DESTROY, &d), ENOTTY);
	int n = 0;
	CHECK_ERR(ioctl(null, FIONREAD, &n), ENOTTY);
	CHECK_ERR(close(null), 0);
	CHECK(open("/dev/iommu-not-here", O_RDWR) == -1 && errno == ENOENT, "other /dev names are the kernel's (ENOENT)");

	int pipefd[2];
	CHECK(pipe(pipefd) == 0 && write(pipefd[1], "x", 1) == 1 && read(pipefd[0], got, 1) == 1, "pipes work");
	close(pipefd[0]);
	close(pipefd[1]);
	CHECK_ERR(close(1000), EBADF);

	CHECK(!getenv("LD_PRELOAD") || maps_mention("libiommufd_preload"), "running under the preload shim");
	CHECK(!maps_mention("libiommufd_engine"), "the engine was never loaded");
	return check_done("no_iommu");
}
