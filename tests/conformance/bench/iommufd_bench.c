/* iommufd_bench.c - the numbers behind `iommufd-emu bench`.
 *
 *   iommufd_bench ioctl [N]                 (run under the shim) round trip of a
 *       trivial ioctl: IOMMU_DESTROY of an unknown id (ENOENT) through the shim
 *       and engine, vs the same request on /dev/null (ENOTTY) in the kernel.
 *   iommufd_bench startup N SHIM ENGINE     wall time of spawning a tiny program
 *       N times: without the shim, under the shim without opening /dev/iommu,
 *       and under the shim opening and closing /dev/iommu once.
 *   iommufd_bench probe open|noopen         that tiny program.
 *   iommufd_bench pin [N]                   (run under the shim) MAP + UNMAP of one
 *       4 KiB page of real memory into an IOAS with one mock domain, and
 *       ACCESS_PAGES + DESTROY_ACCESS_PAGES of one page, beside the kernel
 *       ioctl on /dev/null measured in the same run.
 *
 * Output is "key=value" lines (times in ns), medians of interleaved rounds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../iommufd_uapi.h"
#include "../iommufd_helpers.h"

#define ROUNDS 7

extern char **environ;

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ns per ioctl(fd, IOMMU_DESTROY) over n calls; exits if the errno is not `expect`. */
static double time_ioctl(int fd, long n, int raw, int expect)
{
	struct iommu_destroy d = { sizeof(d), 0xdead };
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		int r = raw ? (int)syscall(SYS_ioctl, fd, IOMMU_DESTROY, &d) : ioctl(fd, IOMMU_DESTROY, &d);
		if (r != -1 || errno != expect) {
			fprintf(stderr, "iommufd_bench: ioctl gave %d errno %d, expected errno %d\n", r, errno, expect);
			exit(1);
		}
	}
	return (now_ns() - t0) / n;
}

static int bench_ioctl(long n)
{
	int efd = open("/dev/iommu", O_RDWR), nfd = open("/dev/null", O_RDWR);
	if (efd < 0 || nfd < 0) {
		perror("iommufd_bench: open (is the shim preloaded?)");
		return 1;
	}
	double emu[ROUNDS], kern[ROUNDS], raw[ROUNDS];
	time_ioctl(efd, n / 4, 0, ENOENT); /* warm up both paths */
	time_ioctl(nfd, n / 4, 0, ENOTTY);
	for (int r = 0; r < ROUNDS; r++) {
		emu[r] = time_ioctl(efd, n, 0, ENOENT);
		kern[r] = time_ioctl(nfd, n, 0, ENOTTY);
		raw[r] = time_ioctl(nfd, n, 1, ENOTTY);
	}
	printf("calls=%ld\nrounds=%d\n", n, ROUNDS);
	printf("emulated_ns=%.1f\n", median(emu, ROUNDS));
	printf("kernel_ns=%.1f\n", median(kern, ROUNDS));
	printf("kernel_raw_ns=%.1f\n", median(raw, ROUNDS));
	return 0;
}

/* The self-test commands the pin benchmark needs (IOMMU_TEST_CMD). */
#define BENCH_TEST_CMD IOMMU_CMD(0xa0)
enum { OP_MOCK_DOMAIN = 2, OP_CREATE_ACCESS = 5, OP_DESTROY_ACCESS_PAGES = 6, OP_ACCESS_PAGES = 7 };

struct bench_test_cmd {
	uint32_t size, op, id, reserved;
	union {
		struct { uint32_t stdev, hwpt, idev; } mock_domain;
		struct { uint32_t out_fd, flags; } create_access;
		struct { uint32_t id; } destroy_pages;
		struct { uint32_t flags, out_id; uint64_t iova, length, uptr; } pages;
		uint8_t pad[48];
	};
	uint32_t last;
};

static int test_cmd(int fd, uint32_t op, uint32_t id, struct bench_test_cmd *c)
{
	c->size = sizeof(*c);
	c->op = op;
	c->id = id;
	return ioctl(fd, BENCH_TEST_CMD, c);
}

static void must(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "iommufd_bench: %s failed: %s\n", what, strerror(errno));
		exit(1);
	}
}

/* ns per MAP + UNMAP of one page through an IOAS with one mock domain. */
static double time_map(int fd, uint32_t ioas, void *buf, long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		uint64_t iova = 0, unmapped = 0;
		must(!ioas_map(fd, ioas, buf, 4096, IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE, &iova), "MAP");
		must(!ioas_unmap(fd, ioas, iova, 4096, &unmapped), "UNMAP");
	}
	return (now_ns() - t0) / n;
}

/* ns per ACCESS_PAGES + DESTROY_ACCESS_PAGES of one page. */
static double time_access(int fd, int access, uint64_t iova, void *buf, long n)
{
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		struct bench_test_cmd c = { 0 };
		c.pages.iova = iova;
		c.pages.length = 4096;
		c.pages.uptr = (uintptr_t)buf;
		must(!test_cmd(fd, OP_ACCESS_PAGES, (uint32_t)access, &c), "ACCESS_PAGES");
		uint32_t id = c.pages.out_id;
		memset(&c, 0, sizeof(c));
		c.destroy_pages.id = id;
		must(!test_cmd(fd, OP_DESTROY_ACCESS_PAGES, (uint32_t)access, &c), "DESTROY_ACCESS_PAGES");
	}
	return (now_ns() - t0) / n;
}

static int bench_pin(long n)
{
	int fd = open("/dev/iommu", O_RDWR), nfd = open("/dev/null", O_RDWR);
	char *buf = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	must(fd >= 0 && nfd >= 0 && buf != MAP_FAILED, "open (is the shim preloaded?)");
	buf[0] = 1;
	uint32_t with_domain = ioas_alloc(fd), plain = ioas_alloc(fd);
	struct bench_test_cmd c = { 0 };
	must(!test_cmd(fd, OP_MOCK_DOMAIN, with_domain, &c), "MOCK_DOMAIN");
	memset(&c, 0, sizeof(c));
	c.create_access.flags = 1; /* needs pin pages */
	must(!test_cmd(fd, OP_CREATE_ACCESS, plain, &c), "CREATE_ACCESS");
	int access = (int)c.create_access.out_fd;
	uint64_t iova = 0;
	must(!ioas_map(fd, plain, buf, 4096, IOMMU_IOAS_MAP_READABLE | IOMMU_IOAS_MAP_WRITEABLE, &iova), "MAP for access");

	double map[ROUNDS], pages[ROUNDS], kern[ROUNDS];
	time_map(fd, with_domain, buf, n / 4 + 1); /* warm up */
	time_access(fd, access, iova, buf, n / 4 + 1);
	for (int r = 0; r < ROUNDS; r++) {
		map[r] = time_map(fd, with_domain, buf, n);
		pages[r] = time_access(fd, access, iova, buf, n);
		kern[r] = time_ioctl(nfd, n, 0, ENOTTY);
	}
	printf("calls=%ld\nrounds=%d\n", n, ROUNDS);
	printf("map_unmap_domain_ns=%.1f\n", median(map, ROUNDS));
	printf("access_pages_ns=%.1f\n", median(pages, ROUNDS));
	printf("kernel_ns=%.1f\n", median(kern, ROUNDS));
	return 0;
}

/* Spawns argv with envp and waits; wall time in ns, or -1. */
static double time_spawn(char **argv, char **envp)
{
	pid_t pid;
	int status;
	double t0 = now_ns();
	if (posix_spawn(&pid, argv[0], NULL, NULL, argv, envp))
		return -1;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		return -1;
	return now_ns() - t0;
}

/* environ minus LD_PRELOAD/IOMMUFD_*, plus up to two extra entries. */
static char **make_env(const char *a, const char *b)
{
	int n = 0;
	while (environ[n])
		n++;
	char **env = calloc(n + 3, sizeof(*env));
	int k = 0;
	for (int i = 0; i < n; i++)
		if (strncmp(environ[i], "LD_PRELOAD=", 11) && strncmp(environ[i], "IOMMUFD_EMU_", 12))
			env[k++] = environ[i];
	if (a)
		env[k++] = (char *)a;
	if (b)
		env[k++] = (char *)b;
	return env;
}

static int bench_startup(int n, const char *shim, const char *engine)
{
	char self[4096];
	ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len <= 0)
		return 1;
	self[len] = 0;
	char preload[4200], eng[4200];
	snprintf(preload, sizeof(preload), "LD_PRELOAD=%s", shim);
	snprintf(eng, sizeof(eng), "IOMMUFD_EMU_ENGINE=%s", engine);
	char *noopen[] = { self, "probe", "noopen", NULL };
	char *withopen[] = { self, "probe", "open", NULL };
	char **plain_env = make_env(NULL, NULL), **shim_env = make_env(preload, eng);
	double *plain = calloc(n, sizeof(double)), *idle = calloc(n, sizeof(double)), *open1 = calloc(n, sizeof(double));
	time_spawn(withopen, shim_env); /* warm the page cache */
	for (int i = 0; i < n; i++) {
		plain[i] = time_spawn(noopen, plain_env);
		idle[i] = time_spawn(noopen, shim_env);
		open1[i] = time_spawn(withopen, shim_env);
		if (plain[i] < 0 || idle[i] < 0 || open1[i] < 0) {
			fprintf(stderr, "iommufd_bench: a probe run failed\n");
			return 1;
		}
	}
	printf("runs=%d\n", n);
	printf("startup_plain_ns=%.0f\n", median(plain, n));
	printf("startup_shim_noopen_ns=%.0f\n", median(idle, n));
	printf("startup_shim_open_ns=%.0f\n", median(open1, n));
	return 0;
}

static int probe(const char *what)
{
	if (strcmp(what, "open"))
		return 0;
	int fd = open("/dev/iommu", O_RDWR);
	return fd >= 0 && close(fd) == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "ioctl"))
		return bench_ioctl(argc > 2 ? atol(argv[2]) : 1000000);
	if (argc >= 5 && !strcmp(argv[1], "startup"))
		return bench_startup(atoi(argv[2]), argv[3], argv[4]);
	if (argc >= 2 && !strcmp(argv[1], "pin"))
		return bench_pin(argc > 2 ? atol(argv[2]) : 20000);
	if (argc >= 3 && !strcmp(argv[1], "probe"))
		return probe(argv[2]);
	fprintf(stderr, "usage: %s ioctl [N] | startup N SHIM ENGINE | pin [N] | probe open|noopen\n", argv[0]);
	return 2;
}
