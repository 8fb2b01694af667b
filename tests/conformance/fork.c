/* fork.c - fork() around an emulated /dev/iommu must never hang or crash.
 *
 * Kernel semantics: a child shares the parent's open file, hence the same
 * context. The emulator refuses an inherited context with EIO instead of
 * silently using a private snapshot (docs/fork.md), so an inherited fd is
 * accepted here when it either works (real kernel) or fails with EIO. Opening
 * /dev/iommu afresh in a child must just work, before or after the parent has
 * opened it, and in a grandchild too, also while another thread of the parent
 * is busy in the engine (the child's runtime must not wait for that thread). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "check.h"
#include "iommufd_helpers.h"

#define PAGE 4096UL

static char *buf;

/* Exit status of a child, or -1 if it died or outlived the timeout. */
static int wait_child(pid_t pid, int seconds)
{
	for (int i = 0; i < seconds * 100; i++) {
		int status;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(10000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

/* Opens, maps, unmaps and closes a context of its own: 0 or a step number. */
static int use_fresh_context(void)
{
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		return 1;
	uint32_t id = ioas_alloc(fd);
	if (id != 1)
		return 2;
	uint64_t iova = 0, unmapped = 0;
	if (ioas_map(fd, id, buf, 4 * PAGE, MAP_RW, &iova))
		return 3;
	if (ioas_unmap(fd, id, 0, UINT64_MAX, &unmapped) || unmapped != 4 * PAGE)
		return 4;
	return close(fd) ? 5 : 0;
}

/* Forks a child running fn; its exit status (-1 on death or timeout). */
static int in_child(int (*fn)(void *), void *arg)
{
	fflush(stdout);
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		_exit(fn(arg));
	}
	return pid < 0 ? -1 : wait_child(pid, 60);
}

static int fresh(void *arg)
{
	(void)arg;
	return use_fresh_context();
}

static int grandchild(void *arg)
{
	int rc = use_fresh_context();
	return rc ? rc : in_child(fresh, arg) == 0 ? 0 : 20;
}

struct inherited {
	int fd;
	uint32_t ioas;
};

/* 0: inherited fd gave success or EIO and a fresh open worked; else a step. */
static int inherited(void *arg)
{
	struct inherited *p = arg;
	errno = 0;
	int rc = iova_ranges(p->fd, p->ioas, NULL, 0, NULL, NULL);
	if (!(rc == -1 && (errno == EMSGSIZE || errno == EIO)))
		return 30;
	printf("     (child: inherited fd answers %s)\n", errno == EIO ? "EIO" : "as the parent's context");
	fflush(stdout);
	uint64_t iova = 0;
	rc = ioas_map(p->fd, p->ioas, buf, PAGE, MAP_RW, &iova);
	if (!(rc == 0 || errno == EIO))
		return 31;
	rc = use_fresh_context();
	if (rc)
		return rc;
	return close(p->fd) ? 32 : 0; /* closing an inherited fd is fine either way */
}

/* Enough ALLOC/MAP/DESTROY rounds to make the engine collect garbage several times. */
static int churn(void *arg)
{
	(void)arg;
	int fd = open("/dev/iommu", O_RDWR);
	if (fd < 0)
		return 40;
	for (int i = 0; i < 20000; i++) {
		uint32_t id = ioas_alloc(fd);
		uint64_t iova = 0;
		if (!id || ioas_map(fd, id, buf, 4 * PAGE, MAP_RW, &iova) || destroy(fd, id))
			return 41;
	}
	return close(fd) ? 42 : 0;
}

static atomic_bool stop_busy;

static void *busy(void *arg)
{
	int fd = *(int *)arg;
	uint32_t id = ioas_alloc(fd);
	while (!atomic_load(&stop_busy)) {
		uint64_t iova = 0;
		ioas_map(fd, id, buf, PAGE, MAP_RW, &iova);
		ioas_unmap(fd, id, 0, UINT64_MAX, NULL);
	}
	return NULL;
}

int main(void)
{
	buf = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	/* As the kernel selftest harness does: fork before anything opened /dev/iommu. */
	CHECK(in_child(fresh, NULL) == 0, "a child forked before any open uses its own context");
	CHECK(in_child(grandchild, NULL) == 0, "so does its own child");

	int fd = open_iommufd();
	uint32_t ioas = ioas_alloc(fd);
	uint64_t iova = 0x100000;
	CHECK_ERR(ioas_map(fd, ioas, buf, 4 * PAGE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &iova), 0);

	struct inherited p = { fd, ioas };
	int status = in_child(inherited, &p);
	CHECK(status == 0, "after the parent opened: inherited fd gives success or EIO, a fresh open works (%d)", status);
	CHECK(in_child(grandchild, NULL) == 0, "a grandchild of a parent using the engine opens its own context");
	for (int i = 0; i < 20; i++)
		if ((status = in_child(fresh, NULL)) != 0)
			break;
	CHECK(status == 0, "twenty children in a row, no hang, no crash");

	pthread_t t;
	pthread_create(&t, NULL, busy, &fd);
	usleep(20000);
	for (int i = 0; i < 10; i++)
		if ((status = in_child(churn, NULL)) != 0)
			break;
	atomic_store(&stop_busy, true);
	pthread_join(t, NULL);
	CHECK(status == 0, "ten children forked while a thread is busy in the engine, each collecting garbage (%d)", status);

	/* The parent's context is as it was. */
	uint64_t unmapped = 0;
	CHECK_ERR(ioas_unmap(fd, ioas, 0x100000, 4 * PAGE, &unmapped), 0);
	CHECK(unmapped == 4 * PAGE, "the parent's mapping survived its children");
	CHECK_ERR(close(fd), 0);
	return check_done("fork");
}
