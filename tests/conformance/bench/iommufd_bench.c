/* iommufd_bench.c - the numbers behind `iommufd-emu bench`.
 *
 *   iommufd_bench ioctl [N]                 (run under the shim) round trip of a
 *       trivial ioctl: IOMMU_DESTROY of an unknown id (ENOENT) through the shim
 *       and engine, vs the same request on /dev/null (ENOTTY) in the kernel.
 *   iommufd_bench startup N SHIM ENGINE     wall time of spawning a tiny program
 *       N times: without the shim, under the shim without opening /dev/iommu,
 *       and under the shim opening and closing /dev/iommu once.
 *   iommufd_bench probe open|noopen         that tiny program.
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
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../iommufd_uapi.h"

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
	if (argc >= 3 && !strcmp(argv[1], "probe"))
		return probe(argv[2]);
	fprintf(stderr, "usage: %s ioctl [N] | startup N SHIM ENGINE | probe open|noopen\n", argv[0]);
	return 2;
}
