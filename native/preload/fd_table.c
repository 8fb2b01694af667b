/* fd_table.c - fd -> emulated file records.
 *
 * Every fd the shim emulates is a real kernel fd (an eventfd) recorded here. Records are shared
 * by dup'ed fds and counted; when the last reference goes, the record's kind tells the engine
 * (release) outside tbl_lock, since the engine may close fds itself. A vfork()/posix_spawn child
 * shares our memory but not our fd table: only the owning process changes the table.
 */
#include "shim.h"
#include <stdlib.h>

_Atomic(slot_t *) fd_chunks[MAX_FD / CHUNK_SIZE];
pthread_mutex_t tbl_lock = PTHREAD_MUTEX_INITIALIZER;
pid_t self_pid;
static struct emu_file *free_recs;  /* tbl_lock */
static struct emu_file *cookie_list; /* tbl_lock: records the engine names for readiness */

int table_owner(void) { return getpid() == self_pid; }

static struct emu_file *new_rec(const struct emu_kind *kind, uint64_t id)
{
	struct emu_file *f = free_recs;
	if (f)
		free_recs = f->next;
	else if (!(f = malloc(sizeof(*f))))
		return NULL;
	/* Field by field: a racing lock-free reader may still hold this record. */
	f->holds = NULL;
	f->refs = 0;
	f->next = NULL;
	f->list_next = f->list_prev = NULL;
	f->listed = 0;
	f->fd = -1;
	f->readable = 0;
	f->dev = 0;
	f->ino = 0;
	f->accmode = O_RDWR;
	atomic_store_explicit(&f->pos, 0, memory_order_relaxed);
	atomic_store_explicit(&f->kind, kind, memory_order_relaxed);
	atomic_store_explicit(&f->id, id, memory_order_relaxed);
	return f;
}

static void free_rec(struct emu_file *f)
{
	f->next = free_recs;
	free_recs = f;
}

void cookie_list_add(struct emu_file *f)
{
	f->list_prev = NULL;
	f->list_next = cookie_list;
	if (cookie_list)
		cookie_list->list_prev = f;
	cookie_list = f;
	f->listed = 1;
}

/* Rare (a fault queue turning (non-)empty), so a list walk is fine. */
struct emu_file *cookie_list_find(uint64_t id)
{
	struct emu_file *f = cookie_list;
	while (f && id_of(f) != id)
		f = f->list_next;
	return f;
}

static void cookie_list_remove(struct emu_file *f)
{
	if (f->list_next)
		f->list_next->list_prev = f->list_prev;
	if (f->list_prev)
		f->list_prev->list_next = f->list_next;
	else
		cookie_list = f->list_next;
	f->list_next = f->list_prev = NULL;
	f->listed = 0;
}

static void drop(struct emu_file *f, struct emu_file **dead)
{
	if (--f->refs)
		return;
	if (f->listed) /* no fd left to make readable: its id is unknown from now on */
		cookie_list_remove(f);
	f->next = *dead;
	*dead = f;
}

/* Make fd refer to f (NULL clears); a previous (possibly stale) entry is dropped onto *dead.
 * Returns -1 if fd is out of range or memory ran out. */
int slot_set(int fd, struct emu_file *f, struct emu_file **dead)
{
	if ((unsigned)fd >= MAX_FD)
		return -1;
	slot_t *c = atomic_load_explicit(&fd_chunks[fd >> CHUNK_BITS], memory_order_relaxed);
	if (!c) {
		if (!f)
			return 0;
		if (!(c = calloc(CHUNK_SIZE, sizeof(*c))))
			return -1;
		atomic_store_explicit(&fd_chunks[fd >> CHUNK_BITS], c, memory_order_release);
	}
	struct emu_file *old = atomic_load_explicit(&c[fd & (CHUNK_SIZE - 1)], memory_order_relaxed);
	if (f) {
		f->refs++;
		f->fd = fd;
	}
	atomic_store_explicit(&c[fd & (CHUNK_SIZE - 1)], f, memory_order_release);
	if (old)
		drop(old, dead);
	return 0;
}

/* newfd was just produced by a real syscall: make it mirror oldfd (-1: none).
 * Returns newfd or -1/EMFILE (newfd closed). */
int adopt(int newfd, int oldfd, struct emu_file **dead)
{
	if (newfd < 0 || !table_owner())
		return newfd;
	if (slot_set(newfd, oldfd >= 0 ? lookup(oldfd) : NULL, dead) < 0) {
		REAL(close)(newfd);
		errno = EMFILE;
		return -1;
	}
	return newfd;
}

/* After a successful close_range/closefrom. */
void forget_range(unsigned first, unsigned last, struct emu_file **dead)
{
	if (last >= MAX_FD)
		last = MAX_FD - 1;
	if (table_owner())
		for (unsigned fd = first; fd <= last; fd++)
			if (lookup(fd))
				slot_set(fd, NULL, dead);
}

/* An fd naming f, or -1. The hint is usually right; it is stale only when that fd was closed
 * while a dup lives on, so scan then. */
int fd_of(struct emu_file *f)
{
	if (lookup(f->fd) == f)
		return f->fd;
	for (unsigned i = 0; i < MAX_FD / CHUNK_SIZE; i++) {
		slot_t *c = atomic_load_explicit(&fd_chunks[i], memory_order_relaxed);
		for (unsigned j = 0; c && j < CHUNK_SIZE; j++)
			if (atomic_load_explicit(&c[j], memory_order_relaxed) == f)
				return f->fd = (int)(i * CHUNK_SIZE + j);
	}
	return -1;
}

/* Outside tbl_lock (the engine may close fds itself): tell the engine, then recycle. A record
 * is released before the one it holds. */
void release(struct emu_file *dead)
{
	int saved = errno;
	while (dead) {
		struct emu_file *next = dead->next;
		kind_of(dead)->release(dead);
		pthread_mutex_lock(&tbl_lock);
		struct emu_file *held = dead->holds;
		dead->holds = NULL;
		if (held && --held->refs == 0) { /* its last fd went first */
			held->next = next;
			next = held;
		}
		free_rec(dead);
		pthread_mutex_unlock(&tbl_lock);
		dead = next;
	}
	errno = saved;
}

/* Result of a pass-through call that creates an fd: if the number still has an entry, that
 * fd was closed behind our back (fclose, raw syscall); forget it. */
int heal(int fd)
{
	if (!unlikely(fd >= 0 && lookup(fd)))
		return fd;
	struct emu_file *dead = NULL;
	pthread_mutex_lock(&tbl_lock);
	adopt(fd, -1, &dead);
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	return fd;
}

/* Records fd (just made, ours alone) as a new file of `kind`: the record, or NULL with *rc
 * -ENOMEM or -EMFILE (the caller still owns fd and id). */
struct emu_file *add_file_locked(int fd, const struct emu_kind *kind, uint64_t id,
				 struct emu_file **dead, int *rc)
{
	struct emu_file *f = new_rec(kind, id);
	if (!f) {
		*rc = -ENOMEM;
		return NULL;
	}
	if (slot_set(fd, f, dead) < 0) {
		free_rec(f);
		*rc = -EMFILE;
		return NULL;
	}
	return f;
}
