/* fork.c - fork() around an emulated /dev/iommu must never hang or crash.
 *
 * Kernel semantics: a child shares the parent's open file, hence the same
 * context, and a MAP through it maps the child's memory into the parent's
 * IOAS: readable through an access while the child lives, gone (EFAULT) once
 * it has exited with nothing pinned (docs/fork.md). Opening /dev/iommu afresh
 * in a child must just work, before or after the parent has opened it, and in
 * a grandchild too, also while another thread of the parent is busy in the
 * engine (the child's runtime must not wait for that thread). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "check.h"
#include "iommufd_helpers.h"
#include "selftest_uapi.h"

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

#define CHILD_IOVA 0x200000UL


/* Reads `len` bytes at `iova` through the access, as a device without an IOMMU would. */
static int access_read(int fd, int access, uint64_t iova, void *out, uint64_t len)
{
	struct iommu_test_cmd c = { .size = sizeof(c), .op = TEST_OP_ACCESS_RW, .id = (uint32_t)access };
	c.access_rw.iova = iova;
	c.access_rw.length = len;
	c.access_rw.uptr = (uintptr_t)out;
	return ioctl(fd, IOMMU_TEST_CMD, &c);
}

/* Child: through the inherited fd, map its own (copied-on-write) page into the
 * parent's IOAS, then wait until the parent has read it. 0 or a failed step. */
static int inherited_child(int fd, uint32_t ioas, int ready, int done)
{
	if (iova_ranges(fd, ioas, NULL, 0, NULL, NULL) != -1 || errno != EMSGSIZE)
		return 30;
	memset(buf, 0x5a, PAGE); /* the parent's copy keeps its own bytes */
	uint64_t iova = CHILD_IOVA;
	if (ioas_map(fd, ioas, buf, PAGE, MAP_RW | IOMMU_IOAS_MAP_FIXED_IOVA, &iova))
		return 31;
	char c = 1;
	if (write(ready, &c, 1) != 1 || read(done, &c, 1) != 1)
		return 32;
	int rc = use_fresh_context();
	if (rc)
		return rc;
	return close(fd) ? 33 : 0;
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

	struct iommu_test_cmd ca = { .size = sizeof(ca), .op = TEST_OP_CREATE_ACCESS, .id = ioas };
	CHECK_ERR(ioctl(fd, IOMMU_TEST_CMD, &ca), 0);
	int access = (int)ca.create_access.out_access_fd;
	memset(buf, 0x11, PAGE);
	int ready[2], done[2];
	CHECK(pipe(ready) == 0 && pipe(done) == 0, "pipes");
	pid_t pid = fork();
	if (pid == 0) {
		alarm(60);
		_exit(inherited_child(fd, ioas, ready[1], done[0]));
	}
	char c = 0, seen[16] = { 0 };
	CHECK(read(ready[0], &c, 1) == 1, "the child mapped through its inherited fd");
	CHECK_ERR(access_read(fd, access, CHILD_IOVA, seen, sizeof(seen)), 0);
	CHECK(seen[0] == 0x5a && seen[15] == 0x5a, "the parent's IOAS maps the child's memory, not its own copy");
	CHECK(write(done[1], &c, 1) == 1, "let the child finish");
	int status = wait_child(pid, 60);
	CHECK(status == 0, "inherited fd works as the parent's context, a fresh open works too (%d)", status);
	/* Nothing pinned the child's page, so with the child gone it is gone too. */
	CHECK_ERR(access_read(fd, access, CHILD_IOVA, seen, sizeof(seen)), EFAULT);
	CHECK_ERR(ioas_unmap(fd, ioas, CHILD_IOVA, PAGE, NULL), 0);
	CHECK_ERR(close(access), 0);
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
