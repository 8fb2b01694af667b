/* fail_nth.c - the kernel's fault-injection interface under the emulator: writing N to this
 * thread's fail-nth makes the Nth fault site the thread reaches fail (ENOMEM for allocations,
 * EFAULT for user copies) and reads back "0" once injected; a sweep over N through IOAS_MAP with a
 * mock domain attached finds every site and leaves the IOAS intact after each failure; the
 * setting belongs to one thread; the debugfs knobs a fail-nth test sets up first exist, take
 * writes, read them back and are listed under /sys/kernel/debug.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>
#include "check.h"
#include "iommufd_helpers.h"
#include "selftest_uapi.h"

#define LEN (64 * 1024)
#define IOVA (1UL << 24) /* the mock domain's aperture starts here */

static int write_text(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	int saved = errno;
	close(fd);
	errno = saved;
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The file's whole content (at most cap - 1 bytes), or -1. */
static ssize_t read_text(const char *path, char *out, size_t cap)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t len = 0;
	ssize_t n;
	while (len < cap - 1 && (n = read(fd, out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	out[len] = 0;
	return (ssize_t)len;
}

static int set_nth(const char *path, unsigned n)
{
	char text[16];
	snprintf(text, sizeof(text), "%u", n);
	return write_text(path, text);
}

static long get_nth(const char *path)
{
	char text[32];
	return read_text(path, text, sizeof(text)) > 0 ? strtol(text, NULL, 10) : -1;
}

static int check_map(int fd, uint32_t hwpt, uint64_t iova, void *buf, uint64_t len)
{
	struct iommu_test_cmd c = { .size = sizeof(c), .op = TEST_OP_MD_CHECK_MAP, .id = hwpt };
	c.check_map.iova = iova;
	c.check_map.length = len;
	c.check_map.uptr = (uintptr_t)buf;
	return ioctl(fd, IOMMU_TEST_CMD, &c);
}

/* Another thread sets its own fail-nth to 1 and leaves it armed. */
static void *arm_other(void *arg)
{
	*(int *)arg = set_nth("/proc/thread-self/fail-nth", 1) == 0 && get_nth("/proc/thread-self/fail-nth") == 1;
	return NULL;
}

static void fault_debugfs(void)
{
	char text[64];
	CHECK_ERR(write_text("/sys/kernel/debug/failslab/ignore-gfp-wait", "N"), 0);
	CHECK(read_text("/sys/kernel/debug/failslab/ignore-gfp-wait", text, sizeof(text)) == 1 && !strcmp(text, "N"),
	      "failslab/ignore-gfp-wait reads back what was written");
	CHECK(read_text("/sys/kernel/debug/fail_usercopy/times", text, sizeof(text)) > 0 && !strcmp(text, "1\n"),
	      "fail_usercopy/times starts at the kernel's default 1");
	int dfd = open("/sys/kernel/debug", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dfd >= 0, "/sys/kernel/debug opens as a directory");
	const char *knobs[] = { "fail_page_alloc/ignore-gfp-wait", "fail_page_alloc/verbose", "failslab/verbose",
				"fail_usercopy/probability", "failslab/task-filter", "fail_page_alloc/interval",
				"fail_usercopy/space" };
	for (size_t i = 0; dfd >= 0 && i < sizeof(knobs) / sizeof(knobs[0]); i++) {
		int k = openat(dfd, knobs[i], O_WRONLY | O_CLOEXEC);
		ssize_t w = k >= 0 ? write(k, "0\n", 2) : -1;
		if (k >= 0)
			close(k);
		char path[128];
		snprintf(path, sizeof(path), "/sys/kernel/debug/%s", knobs[i]);
		CHECK(w == 2 && read_text(path, text, sizeof(text)) == 2 && !strcmp(text, "0\n"),
		      "openat(debugfs, %s) takes \"0\" and reads it back", knobs[i]);
	}
	if (dfd >= 0)
		close(dfd);
	DIR *d = opendir("/sys/kernel/debug/");
	int seen = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		seen |= !strcmp(e->d_name, "failslab") << 0 | !strcmp(e->d_name, "fail_page_alloc") << 1 |
			!strcmp(e->d_name, "fail_usercopy") << 2;
	if (d)
		closedir(d);
	CHECK(seen == 7, "listing /sys/kernel/debug/ shows failslab, fail_page_alloc and fail_usercopy");
	d = opendir("/sys/kernel/debug/failslab");
	int files = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		files += !strcmp(e->d_name, "probability") || !strcmp(e->d_name, "interval") ||
			 !strcmp(e->d_name, "times") || !strcmp(e->d_name, "verbose");
	if (d)
		closedir(d);
	CHECK(files == 4, "failslab/ holds probability, interval, times and verbose");
}

int main(void)
{
	char task_path[64];
	snprintf(task_path, sizeof(task_path), "/proc/self/task/%d/fail-nth", (int)gettid());
	const char *self_path = "/proc/thread-self/fail-nth";

	int fd = open_iommufd();
	uint32_t ioas = ioas_alloc(fd);
	struct iommu_test_cmd md = { .size = sizeof(md), .op = TEST_OP_MOCK_DOMAIN, .id = ioas };
	CHECK_ERR(ioctl(fd, IOMMU_TEST_CMD, &md), 0);
	uint32_t hwpt = md.mock_domain.out_hwpt_id;
	unsigned char *buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	unsigned char *spare = mmap(NULL, LEN, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	memset(buf, 0x5a, LEN);
	memset(spare, 0xa5, LEN);

	CHECK(get_nth(self_path) == 0, "fail-nth reads 0 while off");
	CHECK_ERR(set_nth(self_path, 1), 0);
	CHECK(get_nth(task_path) == 1, "/proc/self/task/<tid>/fail-nth reads what /proc/thread-self/fail-nth was given");
	uint64_t iova = IOVA;
	/* The first site of any ioctl is copying its struct in. */
	CHECK_ERR(ioas_map(fd, ioas, buf, LEN, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE, &iova), EFAULT);
	char text[32];
	CHECK(read_text(self_path, text, sizeof(text)) == 1 && !strcmp(text, "0"), "reads back \"0\" once injected");
	CHECK_ERR(ioas_map(fd, ioas, buf, LEN, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE, &iova), 0);
	CHECK_ERR(ioas_unmap(fd, ioas, IOVA, LEN, NULL), 0);

	int enomem = 0, efault = 0, other = 0, broken = 0, n;
	for (n = 1; n < 1000; n++) {
		if (set_nth(task_path, (unsigned)n) < 0)
			break;
		iova = IOVA;
		int rc = ioas_map(fd, ioas, buf, LEN, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE, &iova);
		int err = rc ? errno : 0;
		long left = get_nth(task_path);
		set_nth(task_path, 0);
		if (!rc) {
			CHECK(left > 0, "fail-nth %d: the map succeeds without reaching the Nth site (%ld left)", n, left);
			CHECK_ERR(check_map(fd, hwpt, IOVA, buf, LEN), 0);
			CHECK_ERR(ioas_unmap(fd, ioas, IOVA, LEN, NULL), 0);
			break;
		}
		enomem += err == ENOMEM;
		efault += err == EFAULT;
		other += err != ENOMEM && err != EFAULT;
		broken += left != 0;
		/* The IOAS is intact: the failed map left nothing but what a map whose answer could
		 * not be copied back leaves (the mapping itself, as in the kernel); another works. */
		uint64_t unmapped = 0;
		int u = ioas_unmap(fd, ioas, 0, UINT64_MAX, &unmapped);
		broken += !(u == 0 && (unmapped == 0 || (err == EFAULT && unmapped == LEN)));
		uint64_t at = IOVA + LEN;
		broken += ioas_map(fd, ioas, spare, LEN, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE, &at) != 0;
		broken += check_map(fd, hwpt, at, spare, LEN) != 0;
		broken += ioas_unmap(fd, ioas, at, LEN, NULL) != 0;
	}
	CHECK(enomem > 0 && efault > 0 && other == 0,
	      "the sweep over %d sites fails with ENOMEM (%d) and EFAULT (%d), nothing else (%d)", n - 1, enomem, efault, other);
	CHECK(broken == 0, "after every failure fail-nth reads 0 and the IOAS is intact (%d problems)", broken);

	CHECK(write_text(self_path, "-1") < 0 && errno == EINVAL, "a negative count is EINVAL");
	CHECK(write_text(self_path, "3x") < 0 && errno == EINVAL, "a count with junk is EINVAL");
	CHECK_ERR(write_text(self_path, "0x10\n"), 0);
	CHECK(get_nth(self_path) == 16, "counts are read as kstrtouint reads them (0x10 is 16)");
	CHECK_ERR(set_nth(self_path, 0), 0);

	int armed = 0;
	pthread_t t;
	pthread_create(&t, NULL, arm_other, &armed);
	pthread_join(t, NULL);
	CHECK(armed, "another thread arms its own fail-nth");
	iova = IOVA;
	CHECK_ERR(ioas_map(fd, ioas, buf, LEN, IOMMU_IOAS_MAP_FIXED_IOVA | IOMMU_IOAS_MAP_READABLE, &iova), 0);
	CHECK_ERR(ioas_unmap(fd, ioas, IOVA, LEN, NULL), 0);

	fault_debugfs();
	CHECK(read_text("/proc/self/comm", text, sizeof(text)) > 0, "other /proc files are the real ones");
	close(fd);
	return check_done("fail_nth");
}
