/* map_table.c - mappings of emulated fds (wrap_io.c: emulated_mmap) and munmap(). The engine
 * keeps what a mapping shows in use (a vIOMMU cannot be destroyed while mapped), so it must hear
 * when the mapping goes. Only a munmap() of exactly a recorded mapping tells it; a partial
 * munmap, mremap() or raw syscall leaves the owner in use until the context closes. Programs
 * that map no emulated fd pay one relaxed load per munmap(). */
#include "shim.h"
#include <stdlib.h>
#include <sys/mman.h>

struct mapping {
	void *addr;
	size_t len;
	uint64_t cookie;
	struct mapping *next;
};

static pthread_mutex_t map_lock = PTHREAD_MUTEX_INITIALIZER;
static struct mapping *mappings;
static _Atomic int mapping_count;

int map_record(void *addr, size_t len, uint64_t cookie)
{
	struct mapping *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	*m = (struct mapping){ .addr = addr, .len = len, .cookie = cookie };
	pthread_mutex_lock(&map_lock);
	m->next = mappings;
	mappings = m;
	atomic_fetch_add_explicit(&mapping_count, 1, memory_order_relaxed);
	pthread_mutex_unlock(&map_lock);
	return 0;
}

/* The cookie of the mapping that is exactly [addr, +len), taken out of the table; 0 if none. */
static uint64_t map_take(void *addr, size_t len)
{
	uint64_t cookie = 0;
	pthread_mutex_lock(&map_lock);
	for (struct mapping **p = &mappings; *p; p = &(*p)->next) {
		struct mapping *m = *p;
		if (m->addr == addr && m->len == len) {
			cookie = m->cookie;
			*p = m->next;
			free(m);
			atomic_fetch_sub_explicit(&mapping_count, 1, memory_order_relaxed);
			break;
		}
	}
	pthread_mutex_unlock(&map_lock);
	return cookie;
}

EXPORT int munmap(void *addr, size_t len)
{
	int rc = REAL(munmap)(addr, len);
	if (rc == 0 && unlikely(atomic_load_explicit(&mapping_count, memory_order_relaxed))) {
		uint64_t cookie = map_take(addr, len);
		if (cookie)
			eng.munmap(cookie);
	}
	return rc;
}
