/* close_race.c - threads keep issuing ioctls on an iommufd while another
 * thread keeps replacing the context behind that fd number (dup2 of a fresh
 * open onto it, which closes the old one): every call must answer success or
 * ENOENT (EBADF when it loses the race to the close, as iommufd_emu.h allows)
 * and never crash or hang, whichever side wins each race.
 * (dup2 rather than close+open: a reopened number is briefly the shim's bare
 * eventfd, which answers ENOTTY - a shim artifact, not what this tests.) */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include "check.h"
#include "iommufd_helpers.h"

#define PAGE 4096UL
#define THREADS 2

static int shared_fd = -1;
static atomic_bool stop;
static atomic_long calls, unexpected;
static _Atomic int last_unexpected;
static char *buf;

static void *worker(void *arg)
{
	(void)arg;
	while (!atomic_load(&stop)) {
		int fd = shared_fd;
		uint64_t iova = 0;
		errno = 0;
		int rc = ioas_map(fd, 1, buf, PAGE, MAP_RW, &iova);
		if (rc && errno != ENOENT && errno != EBADF) {
			atomic_fetch_add(&unexpected, 1);
			atomic_store(&last_unexpected, errno);
		}
		rc = ioas_unmap(fd, 1, 0, UINT64_MAX, NULL);
		if (rc && errno != ENOENT && errno != EBADF) {
			atomic_fetch_add(&unexpected, 1);
			atomic_store(&last_unexpected, errno);
		}
		atomic_fetch_add(&calls, 2);
	}
	return NULL;
}

int main(void)
{
	buf = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	shared_fd = open_iommufd();
	ioas_alloc(shared_fd);
	pthread_t t[THREADS];
	for (int i = 0; i < THREADS; i++)
		pthread_create(&t[i], NULL, worker, NULL);
	int cycles = 0, reopen_ok = 1;
	for (; cycles < 2000; cycles++) {
		int nfd = open("/dev/iommu", O_RDWR);
		reopen_ok &= nfd >= 0 && ioas_alloc(nfd) == 1;
		reopen_ok &= dup2(nfd, shared_fd) == shared_fd && close(nfd) == 0;
	}
	atomic_store(&stop, true);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	CHECK(reopen_ok, "%d contexts swapped in under the racing threads", cycles);
	CHECK(atomic_load(&calls) > 0, "%ld racing calls made", atomic_load(&calls));
	CHECK(atomic_load(&unexpected) == 0, "every racing call answered success, ENOENT or EBADF (%ld others, last %s)",
	      atomic_load(&unexpected), check_errname(atomic_load(&last_unexpected)));
	CHECK_ERR(close(shared_fd), 0);
	return check_done("close_race");
}
