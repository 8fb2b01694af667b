/* bench_ioctl.c - cost of an emulated ioctl vs a real kernel ioctl, and of
 * the two user-copy implementations. Run like shim_test (see Makefile). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "../iommufd_emu.h"
#include "stub_engine.h"

static long N = 2000000;

static double now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1e9 + t.tv_nsec;
}

static double bench_ioctl(int fd, int raw, int expect)
{
	struct iommu_destroy d = { sizeof(d), 0xdead };
	double t0 = now_ns();
	for (long i = 0; i < N; i++) {
		int r = raw ? syscall(SYS_ioctl, fd, IOMMU_DESTROY, &d) : ioctl(fd, IOMMU_DESTROY, &d);
		if (r != -1 || errno != expect) {
			fprintf(stderr, "unexpected ioctl result %d errno %d\n", r, errno);
			exit(1);
		}
	}
	return (now_ns() - t0) / N;
}

/* In a child, so IOMMUFD_EMU_COPY is read by a fresh engine load. */
static void copy_bench(const char *mode)
{
	fflush(stdout);
	if (fork() != 0) {
		wait(NULL);
		return;
	}
	setenv("IOMMUFD_EMU_COPY", mode, 1);
	int fd = open("/dev/iommu", O_RDWR);
	void *eng = dlopen(getenv("IOMMUFD_EMU_ENGINE"), RTLD_NOW | RTLD_NOLOAD);
	const struct iommufd_emu_host *(*get)(void) = eng ? (void *)dlsym(eng, "stub_engine_host") : NULL;
	if (fd < 0 || !get) {
		fprintf(stderr, "copy bench setup failed\n");
		_exit(1);
	}
	const struct iommufd_emu_host *h = get();
	uint64_t user = 42, k = 0;
	long n = N;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (h->copy_from_user(&k, (uint64_t)(uintptr_t)&user, 8))
			_exit(1);
	double from = (now_ns() - t0) / n;
	t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (h->copy_to_user((uint64_t)(uintptr_t)&user, &k, 8))
			_exit(1);
	double to = (now_ns() - t0) / n;
	long nf = n / 10;
	t0 = now_ns();
	for (long i = 0; i < nf; i++)
		if (h->copy_from_user(&k, 8, 8) != -EFAULT)
			_exit(1);
	double fault = (now_ns() - t0) / nf;
	double io = bench_ioctl(fd, 0, ENOENT);
	printf("copy=%-6s copy_from_user(8B) %7.1f ns  copy_to_user(8B) %7.1f ns  faulting copy %7.1f ns  DESTROY ioctl %7.1f ns\n",
	       mode, from, to, fault, io);
	fflush(stdout);
	_exit(0);
}

static int shared_fd;
static void *thread_bench(void *p)
{
	*(double *)p = bench_ioctl(shared_fd, 0, ENOENT);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc > 1)
		N = atol(argv[1]);
	copy_bench("sig");
	copy_bench("pvm");

	int efd = open("/dev/iommu", O_RDWR), nfd = open("/dev/null", O_RDWR);
	if (efd < 0 || nfd < 0) {
		perror("open");
		return 1;
	}
	bench_ioctl(efd, 0, ENOENT); /* warm up */
	double emu = bench_ioctl(efd, 0, ENOENT);
	double kern = bench_ioctl(nfd, 0, ENOTTY);
	double raw = bench_ioctl(nfd, 1, ENOTTY);
	printf("N=%ld\n", N);
	printf("emulated ioctl(/dev/iommu, DESTROY)         %7.1f ns/op\n", emu);
	printf("kernel ioctl(/dev/null, DESTROY) via shim   %7.1f ns/op\n", kern);
	printf("kernel ioctl(/dev/null, DESTROY) raw syscall%7.1f ns/op\n", raw);
	printf("ratio kernel/emulated                       %7.1fx\n", kern / emu);

	pthread_t t[2];
	double r[2];
	shared_fd = efd;
	for (int i = 0; i < 2; i++)
		pthread_create(&t[i], NULL, thread_bench, &r[i]);
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	printf("emulated ioctl, 2 threads on one fd         %7.1f / %.1f ns/op\n", r[0], r[1]);
	return 0;
}
