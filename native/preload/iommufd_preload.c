/* iommufd_preload.c - LD_PRELOAD shim that emulates /dev/iommu in user space.
 *
 * open("/dev/iommu") returns a real eventfd (so fd numbers never collide,
 * O_CLOEXEC works and poll has a real file to look at) and the fd is recorded in
 * a table fd -> shared context {engine handle, refcount}. ioctl() on such an
 * fd (read()/write() on an object fd) is forwarded to the IommuFd.NET engine
 * (iommufd_emu.h); everything else goes to libc. Programs that never open
 * /dev/iommu pay one table load per intercepted call and nothing else (no
 * dlopen, no signal handlers).
 *
 * Limits (by design, documented for the lead):
 *  - Only calls through the PLT are seen: fopen(), raw syscall(), libc's
 *    internal close (fclose of an fdopen()ed fd) bypass the shim. A stale
 *    table entry left that way is dropped when the fd number is handed out
 *    again by one of the wrapped open/dup calls.
 *  - fork(): the child inherits a copy of the table and of the engine's
 *    memory, i.e. a snapshot of every context (the kernel would share one
 *    context between parent and child). An atfork child hook records the
 *    fact (in_forked_child) so the engine can later decide a policy.
 *  - execve(): the new image reloads the shim with an empty table; inherited
 *    non-CLOEXEC eventfds are then orphaned plain eventfds. Acceptable.
 *  - Object fds (iommufd_emu.h: open_object_fd) are eventfds too, tagged
 *    with the engine's cookie; each holds a ref on the context it was
 *    created from. Inherited across fork they still reach the engine on
 *    read/write/last close; it refuses or ignores the parent's cookies.
 *  - poll/select/epoll are not wrapped: they see an object's eventfd, whose
 *    counter the shim keeps at 1 while the engine says the object has
 *    something to read (set_object_readable) and at 0 otherwise. Only
 *    read()/__read_chk()/write() are routed to the engine: readv() and the
 *    like, or raw syscalls, reach the eventfd itself (and may drain it).
 *  - vfork()/posix_spawn children share our memory: table updates are only
 *    done by the owning process (getpid() check on the slow paths).
 */
#define _GNU_SOURCE
#undef _FILE_OFFSET_BITS /* we define open AND open64, mmap AND mmap64 */
#undef _TIME_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <ucontext.h>
#include <unistd.h>

#include "iommufd_emu.h"

#define EXPORT __attribute__((visibility("default")))
#define unlikely(x) __builtin_expect(!!(x), 0)

/* Fortify entry points (not declared unless _FORTIFY_SOURCE is on). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);

/* ---- real libc functions, resolved lazily (cheap, no constructor) ---- */

static void *real_sym(void *_Atomic *slot, const char *name)
{
	void *p = atomic_load_explicit(slot, memory_order_relaxed);
	if (unlikely(!p)) {
		p = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, p, memory_order_relaxed);
	}
	return p;
}
#define REAL(f) ((__typeof__(&f))real_sym(&real_##f, #f))
#define X(f) static void *_Atomic real_##f;
X(open) X(open64) X(openat) X(openat64) X(__open_2) X(__open64_2) X(__openat_2)
X(__openat64_2) X(close) X(close_range) X(closefrom) X(dup) X(dup2) X(dup3)
X(fcntl) X(fcntl64) X(ioctl) X(read) X(__read_chk) X(write) X(mmap) X(mmap64)
#undef X

/* ---- fd table ---- */

/* Object fds name an engine object (the self-test's access fd, a fault
 * queue) by a cookie; read/write on them go to the engine, poll sees the
 * eventfd, made readable while the engine says so. */
enum { EMU_KIND_IOMMUFD = 1, EMU_KIND_OBJECT = 2 };

struct emu_file {                  /* one per open file description */
	_Atomic int64_t handle;    /* engine context (IOMMUFD) */
	_Atomic uint64_t cookie;   /* engine object (OBJECT) */
	struct emu_file *ctx;      /* OBJECT: the context it holds a ref on */
	int refs;                  /* refs held (under tbl_lock): fds, and
				    * for a context its object fds */
	_Atomic int kind;
	struct emu_file *next;     /* free list / release list */
	/* OBJECT, all under tbl_lock: */
	struct emu_file *obj_next, *obj_prev; /* live_objects, while refs > 0 */
	int fd;                    /* some fd naming it (a hint: check it) */
	int readable;              /* the eventfd's counter is 1, not 0 */
	dev_t dev;                 /* the eventfd's identity, to tell a */
	ino_t ino;                 /* stale fd number from ours */
};

/* Two-level array indexed by fd, read lock-free (acquire loads); chunks are
 * never freed and records are recycled, never freed, so a racing reader
 * only ever sees a valid (maybe stale) record. */
#define CHUNK_BITS 10
#define CHUNK_SIZE (1 << CHUNK_BITS)
#define MAX_FD (1 << 20)           /* == default fs.nr_open */
typedef _Atomic(struct emu_file *) slot_t;
static _Atomic(slot_t *) chunks[MAX_FD / CHUNK_SIZE];
static pthread_mutex_t tbl_lock = PTHREAD_MUTEX_INITIALIZER;
static struct emu_file *free_recs; /* under tbl_lock */
static struct emu_file *live_objects; /* under tbl_lock: OBJECT records with fds */
static pid_t self_pid;             /* process owning the table */
static volatile int in_forked_child; /* set in a fork child; policy hook */

static inline struct emu_file *lookup(int fd)
{
	if ((unsigned)fd >= MAX_FD)
		return NULL;
	slot_t *c = atomic_load_explicit(&chunks[fd >> CHUNK_BITS], memory_order_acquire);
	if (!c)
		return NULL;
	return atomic_load_explicit(&c[fd & (CHUNK_SIZE - 1)], memory_order_acquire);
}

static void drop(struct emu_file *f, struct emu_file **dead)
{
	if (--f->refs == 0) {
		if (atomic_load_explicit(&f->kind, memory_order_relaxed) == EMU_KIND_OBJECT) {
			/* No fd left to make readable: set_object_readable
			 * ignores its cookie from now on. */
			if (f->obj_next)
				f->obj_next->obj_prev = f->obj_prev;
			if (f->obj_prev)
				f->obj_prev->obj_next = f->obj_next;
			else if (live_objects == f)
				live_objects = f->obj_next;
			f->obj_next = f->obj_prev = NULL;
		}
		f->next = *dead;
		*dead = f;
	}
}

/* Under tbl_lock: make fd refer to f (NULL clears); a previous (possibly
 * stale) entry is dropped onto *dead. Returns -1 if fd is out of range. */
static int slot_set(int fd, struct emu_file *f, struct emu_file **dead)
{
	if ((unsigned)fd >= MAX_FD)
		return -1;
	slot_t *c = atomic_load_explicit(&chunks[fd >> CHUNK_BITS], memory_order_relaxed);
	if (!c) {
		if (!f)
			return 0;
		if (!(c = calloc(CHUNK_SIZE, sizeof(*c))))
			return -1;
		atomic_store_explicit(&chunks[fd >> CHUNK_BITS], c, memory_order_release);
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

static void (*eng_close)(int64_t);
static void (*eng_release_object)(uint64_t); /* optional export */
static int64_t (*eng_object_read)(uint64_t, uint64_t, uint64_t);  /* optional */
static int64_t (*eng_object_write)(uint64_t, uint64_t, uint64_t); /* optional */

/* Outside tbl_lock (the engine may close fds itself): free dead contexts and
 * objects. An object is released before the context it holds a ref on. */
static void release(struct emu_file *dead)
{
	int saved = errno;
	while (dead) {
		struct emu_file *next = dead->next;
		int kind = atomic_load_explicit(&dead->kind, memory_order_relaxed);
		if (kind == EMU_KIND_OBJECT) {
			if (eng_release_object)
				eng_release_object(atomic_load_explicit(&dead->cookie, memory_order_relaxed));
		} else {
			eng_close(atomic_load_explicit(&dead->handle, memory_order_relaxed));
		}
		pthread_mutex_lock(&tbl_lock);
		if (kind == EMU_KIND_OBJECT && dead->ctx) {
			struct emu_file *c = dead->ctx;
			dead->ctx = NULL;
			if (--c->refs == 0) { /* its last fd went first */
				c->next = next;
				next = c;
			}
		}
		dead->next = free_recs;
		free_recs = dead;
		pthread_mutex_unlock(&tbl_lock);
		dead = next;
	}
	errno = saved;
}

/* A vfork()/posix_spawn child shares our memory but not our fd table. */
static int table_owner(void) { return getpid() == self_pid; }

/* newfd was just produced by a real syscall: make it mirror oldfd (-1: none).
 * Called with tbl_lock held. Returns newfd or -1/EMFILE (newfd closed). */
static int adopt(int newfd, int oldfd, struct emu_file **dead)
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

/* Result of a pass-through call that creates an fd: if the number still has
 * an entry, that fd was closed behind our back; forget it. */
static int heal(int fd)
{
	if (unlikely(fd >= 0 && lookup(fd))) {
		struct emu_file *dead = NULL;
		pthread_mutex_lock(&tbl_lock);
		adopt(fd, -1, &dead);
		pthread_mutex_unlock(&tbl_lock);
		release(dead);
	}
	return fd;
}

/* ---- fault-safe user copies ---- */

struct copy_guard {
	sigjmp_buf env;
	uintptr_t lo, hi;          /* user range being accessed */
	volatile int fp_saved;
	volatile uint32_t mxcsr;
	volatile uint16_t fpcw;
};
static __thread struct copy_guard *volatile cur_guard
	__attribute__((tls_model("initial-exec")));
static struct sigaction old_segv, old_bus;

static void fault_handler(int sig, siginfo_t *si, void *ucv)
{
	struct copy_guard *g = cur_guard;
	uintptr_t a = (uintptr_t)si->si_addr;
	/* Only kernel-raised faults on the guarded user range; SI_KERNEL covers
	 * x86 non-canonical addresses, which fault with si_addr == 0. */
	if (g && si->si_code > 0 && ((a >= g->lo && a < g->hi) || si->si_code == SI_KERNEL)) {
#if defined(__x86_64__)
		/* The kernel gives handlers a fresh FPU state and we leave via
		 * siglongjmp, not sigreturn: carry the thread's control words. */
		ucontext_t *uc = ucv;
		if (uc->uc_mcontext.fpregs) {
			g->mxcsr = uc->uc_mcontext.fpregs->mxcsr;
			g->fpcw = uc->uc_mcontext.fpregs->cwd;
			g->fp_saved = 1;
		}
#endif
		siglongjmp(g->env, 1);
	}
	/* Not ours: chain to whatever was installed before (e.g. .NET's). */
	struct sigaction *o = sig == SIGSEGV ? &old_segv : &old_bus;
	if (o->sa_flags & SA_SIGINFO) {
		o->sa_sigaction(sig, si, ucv);
	} else if (o->sa_handler == SIG_IGN && si->si_code <= 0) {
		/* user-sent and ignored */
	} else if (o->sa_handler == SIG_DFL || o->sa_handler == SIG_IGN) {
		/* Restore the default action; a real fault re-executes the
		 * faulting instruction on return and dumps core at the right
		 * place, a user-sent signal is re-raised. */
		signal(sig, SIG_DFL);
		if (si->si_code <= 0)
			raise(sig);
	} else {
		o->sa_handler(sig);
	}
}

static int guarded_copy(void *dst, const void *src, uint64_t len, uint64_t user)
{
	struct copy_guard g;
	if (len == 0)
		return 0;
	if (user + len < user)
		return -EFAULT;
	g.lo = user;
	g.hi = user + len;
	g.fp_saved = 0;
	if (sigsetjmp(g.env, 0)) { /* no mask save: SA_NODEFER, empty sa_mask */
		cur_guard = NULL;
#if defined(__x86_64__)
		if (g.fp_saved) {
			uint32_t m = g.mxcsr;
			uint16_t c = g.fpcw;
			__asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(m), "m"(c));
		}
#endif
		return -EFAULT;
	}
	cur_guard = &g;
	__asm__ volatile("" ::: "memory");
	memcpy(dst, src, len);
	__asm__ volatile("" ::: "memory");
	cur_guard = NULL;
	return 0;
}

static int sig_from_user(void *dst, uint64_t src, uint64_t len)
{
	return guarded_copy(dst, (const void *)(uintptr_t)src, len, src);
}

static int sig_to_user(uint64_t dst, const void *src, uint64_t len)
{
	return guarded_copy((void *)(uintptr_t)dst, src, len, dst);
}

/* Alternative: let the kernel do the checked copy (one syscall per copy). */
static int pvm_copy(void *local, uint64_t user, uint64_t len, int to_user)
{
	if (len == 0)
		return 0;
	if (user + len < user || len > SSIZE_MAX)
		return -EFAULT;
	struct iovec l = { local, len }, r = { (void *)(uintptr_t)user, len };
	ssize_t n = to_user ? process_vm_writev(self_pid, &l, 1, &r, 1, 0)
			  : process_vm_readv(self_pid, &l, 1, &r, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

static int pvm_from_user(void *dst, uint64_t src, uint64_t len)
{
	return pvm_copy(dst, src, len, 0);
}

static int pvm_to_user(uint64_t dst, const void *src, uint64_t len)
{
	return pvm_copy((void *)src, dst, len, 1);
}

/* ---- object fds (host callbacks) ---- */

/* The context whose ioctl this thread is serving (open_object_fd's ctx). */
static __thread struct emu_file *cur_ctx __attribute__((tls_model("initial-exec")));

static struct emu_file *new_rec(void) /* under tbl_lock */
{
	struct emu_file *f = free_recs;
	if (f)
		free_recs = f->next;
	else
		f = malloc(sizeof(*f));
	if (f) {
		f->ctx = NULL;
		f->refs = 0;
		f->next = NULL;
		f->obj_next = f->obj_prev = NULL;
		f->fd = -1;
		f->readable = 0;
		f->dev = 0;
		f->ino = 0;
	}
	return f;
}

static int host_open_object_fd(int64_t ctx, uint64_t cookie)
{
	struct emu_file *c = cur_ctx, *f = NULL, *dead = NULL;
	if (!c || !table_owner())
		return -EBADF;
	int fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		REAL(close)(fd);
		return -e;
	}
	int rc = -EBADF;
	pthread_mutex_lock(&tbl_lock);
	if (atomic_load_explicit(&c->kind, memory_order_relaxed) == EMU_KIND_IOMMUFD && c->refs > 0 &&
	    atomic_load_explicit(&c->handle, memory_order_relaxed) == ctx) {
		if (!(f = new_rec())) {
			rc = -ENOMEM;
		} else {
			atomic_store_explicit(&f->handle, 0, memory_order_relaxed);
			atomic_store_explicit(&f->cookie, cookie, memory_order_relaxed);
			atomic_store_explicit(&f->kind, EMU_KIND_OBJECT, memory_order_relaxed);
			f->dev = st.st_dev;
			f->ino = st.st_ino;
			if (slot_set(fd, f, &dead) < 0) {
				f->next = free_recs;
				free_recs = f;
				rc = -EMFILE;
			} else {
				c->refs++; /* the kernel's access fd pins its iommufd */
				f->ctx = c;
				f->obj_next = live_objects;
				if (live_objects)
					live_objects->obj_prev = f;
				live_objects = f;
				rc = fd;
			}
		}
	}
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	if (rc < 0)
		REAL(close)(fd);
	return rc;
}

static int64_t host_lookup_object_fd(int fd)
{
	struct emu_file *f = lookup(fd);
	if (!f || atomic_load_explicit(&f->kind, memory_order_relaxed) != EMU_KIND_OBJECT)
		return -1;
	int64_t c = (int64_t)atomic_load_explicit(&f->cookie, memory_order_relaxed);
	return c >= 0 ? c : -1;
}

static int host_close_fd(int fd)
{
	int saved = errno;
	int r = close(fd) == 0 ? 0 : -errno;
	errno = saved;
	return r;
}

/* Under tbl_lock: an fd naming f, or -1. The hint is usually right; it is
 * stale only when that fd was closed while a dup lives on, so scan then. */
static int fd_of(struct emu_file *f)
{
	if (lookup(f->fd) == f)
		return f->fd;
	for (unsigned i = 0; i < MAX_FD / CHUNK_SIZE; i++) {
		slot_t *c = atomic_load_explicit(&chunks[i], memory_order_relaxed);
		for (unsigned j = 0; c && j < CHUNK_SIZE; j++)
			if (atomic_load_explicit(&c[j], memory_order_relaxed) == f)
				return f->fd = (int)(i * CHUNK_SIZE + j);
	}
	return -1;
}

/* Under tbl_lock: make the eventfd's counter 1 (poll readable) or 0. Only
 * this code changes it (the program's read/write go to the engine), but a
 * counter touched behind our back (readv, raw syscalls) must not make us
 * block with the lock held: poll first, read only when readable, write only
 * when not. The REAL() calls keep our own read/write out of it; fstat makes
 * sure the number (table entries can be stale) is still that eventfd, as
 * far as the kernel tells eventfds apart. */
static void set_counter(struct emu_file *f, int fd, int readable)
{
	struct stat st;
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	uint64_t v = 1;
	if (fstat(fd, &st) < 0 || st.st_dev != f->dev || st.st_ino != f->ino)
		return;
	if (poll(&p, 1, 0) != 1 || (p.revents & (POLLERR | POLLNVAL)))
		return;
	if (readable && !(p.revents & POLLIN) && (p.revents & POLLOUT))
		REAL(write)(fd, &v, sizeof(v));
	else if (!readable && (p.revents & POLLIN))
		REAL(read)(fd, &v, sizeof(v));
}

/* Holding tbl_lock throughout keeps the fd number from being closed and
 * reused meanwhile (close/dup2/close_range take it too), and orders
 * concurrent calls. Rare (a fault queue turning (non-)empty), so a list walk
 * is fine. */
static void host_set_object_readable(uint64_t cookie, int readable)
{
	int saved = errno;
	readable = !!readable;
	pthread_mutex_lock(&tbl_lock);
	struct emu_file *f = live_objects;
	while (f && atomic_load_explicit(&f->cookie, memory_order_relaxed) != cookie)
		f = f->obj_next;
	if (f && f->readable != readable) {
		int fd = fd_of(f);
		if (fd >= 0)
			set_counter(f, fd, readable);
		f->readable = readable;
	}
	pthread_mutex_unlock(&tbl_lock);
	errno = saved;
}

/* ---- engine loading ---- */

static struct iommufd_emu_host host = {
	.size = sizeof(host),
	.version = IOMMUFD_EMU_HOST_VERSION,
	.open_object_fd = host_open_object_fd,
	.lookup_object_fd = host_lookup_object_fd,
	.close_fd = host_close_fd,
	.set_object_readable = host_set_object_readable,
};
_Static_assert(sizeof(host) == IOMMUFD_EMU_HOST_SIZE_READINESS, "host struct layout");
static int64_t (*eng_open)(void);
static int (*eng_ioctl)(int64_t, uint64_t, uint64_t);
static pthread_mutex_t eng_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic int eng_state;      /* 0 not loaded, 1 loaded, <0 -errno (sticky) */

static int debug_on(void)
{
	const char *d = getenv("IOMMUFD_EMU_DEBUG");
	return d && !strcmp(d, "1");
}
#define DEBUG(...) do { if (debug_on()) fprintf(stderr, "iommufd_preload: " __VA_ARGS__); } while (0)

/* Held across fork so the child never inherits a locked mutex. */
static void fork_prepare(void) { pthread_mutex_lock(&eng_lock); pthread_mutex_lock(&tbl_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&tbl_lock); pthread_mutex_unlock(&eng_lock); }
static void fork_child(void)
{
	self_pid = getpid();
	in_forked_child = 1;       /* engine policy hook: contexts are copies now */
	fork_parent();
}

static int load_engine_locked(void)
{
	const char *path = getenv("IOMMUFD_EMU_ENGINE");
	if (!path || !*path) {
		DEBUG("IOMMUFD_EMU_ENGINE not set\n");
		return -ENOENT;    /* not sticky: nothing was attempted */
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		DEBUG("dlopen failed: %s\n", dlerror());
		return eng_state = -ENOENT;
	}
	int (*init)(const struct iommufd_emu_host *) = dlsym(h, "iommufd_emu_init");
	eng_open = dlsym(h, "iommufd_emu_open");
	eng_ioctl = dlsym(h, "iommufd_emu_ioctl");
	eng_close = dlsym(h, "iommufd_emu_close");
	eng_release_object = dlsym(h, "iommufd_emu_release_object");
	eng_object_read = dlsym(h, "iommufd_emu_object_read");
	eng_object_write = dlsym(h, "iommufd_emu_object_write");
	if (!init || !eng_open || !eng_ioctl || !eng_close) {
		DEBUG("%s lacks the iommufd_emu_* exports\n", path);
		return eng_state = -ENOENT;
	}
	/* Resolved now, not first under tbl_lock (host_set_object_readable). */
	(void)REAL(read);
	(void)REAL(write);
	const char *mode = getenv("IOMMUFD_EMU_COPY");
	int pvm = mode && !strcmp(mode, "pvm");
	host.copy_from_user = pvm ? pvm_from_user : sig_from_user;
	host.copy_to_user = pvm ? pvm_to_user : sig_to_user;
	self_pid = getpid();
	int rc = init(&host);
	if (rc < 0) {
		DEBUG("iommufd_emu_init failed: %d\n", rc);
		return eng_state = rc;
	}
	if (!pvm) {
		/* After init: the runtime's handlers are the ones we chain to. */
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = fault_handler;
		sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		sigaction(SIGSEGV, NULL, &old_segv);
		sigaction(SIGBUS, NULL, &old_bus);
		sigaction(SIGSEGV, &sa, NULL);
		sigaction(SIGBUS, &sa, NULL);
	}
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	DEBUG("engine %s loaded (copy=%s)\n", path, pvm ? "pvm" : "signal");
	return eng_state = 1;
}

static int load_engine(void)
{
	int s = atomic_load_explicit(&eng_state, memory_order_acquire);
	if (s)
		return s;
	pthread_mutex_lock(&eng_lock);
	if (!(s = eng_state))
		s = load_engine_locked();
	pthread_mutex_unlock(&eng_lock);
	return s;
}

/* ---- open ---- */

static int dir_is_dev(int dirfd)
{
	char buf[8], link[40];
	int saved = errno, ok;
	if (dirfd == AT_FDCWD) {
		ok = getcwd(buf, sizeof(buf)) && !strcmp(buf, "/dev");
	} else {
		snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
		ok = readlink(link, buf, sizeof(buf)) == 4 && !memcmp(buf, "/dev", 4);
	}
	errno = saved;
	return ok;
}

static int is_iommu(int dirfd, const char *p)
{
	if (unlikely(!p))
		return 0;
	if (p[0] == '/')
		return !strcmp(p, "/dev/iommu");
	if (p[0] == '.' && p[1] == '/')
		p += 2;
	return !strcmp(p, "iommu") && dir_is_dev(dirfd);
}

static int emu_open(int flags)
{
	int s = load_engine();
	if (s < 0) {
		errno = -s;
		return -1;
	}
	int64_t h = eng_open();
	if (h <= 0) {
		errno = h < 0 ? (int)-h : EIO;
		return -1;
	}
	int fd = eventfd(0, EFD_NONBLOCK | ((flags & O_CLOEXEC) ? EFD_CLOEXEC : 0));
	if (fd < 0) {
		int e = errno;
		eng_close(h);
		errno = e;
		return -1;
	}
	struct emu_file *dead = NULL, *f;
	pthread_mutex_lock(&tbl_lock);
	if ((f = new_rec())) {
		atomic_store_explicit(&f->handle, h, memory_order_relaxed);
		atomic_store_explicit(&f->kind, EMU_KIND_IOMMUFD, memory_order_relaxed);
		if (slot_set(fd, f, &dead) < 0) {
			f->next = free_recs;
			free_recs = f;
			f = NULL;
		}
	}
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	if (!f) {
		REAL(close)(fd);
		eng_close(h);
		errno = EMFILE;
		return -1;
	}
	return fd;
}

#define NEEDS_MODE(fl) (((fl) & O_CREAT) || ((fl) & O_TMPFILE) == O_TMPFILE)
#define GET_MODE(fl, mode) do { if (NEEDS_MODE(fl)) { va_list ap; va_start(ap, fl); \
	mode = va_arg(ap, mode_t); va_end(ap); } } while (0)

/* Same shape for all eight entry points; the mode is only read when the
 * flags say it was passed (the fortify variants never take one). */
#define NO_MODE(fl, mode) ((void)(mode))
#define OPEN_WRAPPER(name, params, get_mode, dirfd, ...)               \
	EXPORT int name params                                         \
	{                                                              \
		mode_t mode = 0;                                       \
		get_mode(flags, mode);                                 \
		if (unlikely(is_iommu(dirfd, path)))                   \
			return emu_open(flags);                        \
		return heal(REAL(name)(__VA_ARGS__));                  \
	}
OPEN_WRAPPER(open, (const char *path, int flags, ...), GET_MODE, AT_FDCWD, path, flags, mode)
OPEN_WRAPPER(open64, (const char *path, int flags, ...), GET_MODE, AT_FDCWD, path, flags, mode)
OPEN_WRAPPER(openat, (int dirfd, const char *path, int flags, ...), GET_MODE, dirfd, dirfd, path, flags, mode)
OPEN_WRAPPER(openat64, (int dirfd, const char *path, int flags, ...), GET_MODE, dirfd, dirfd, path, flags, mode)
OPEN_WRAPPER(__open_2, (const char *path, int flags), NO_MODE, AT_FDCWD, path, flags)
OPEN_WRAPPER(__open64_2, (const char *path, int flags), NO_MODE, AT_FDCWD, path, flags)
OPEN_WRAPPER(__openat_2, (int dirfd, const char *path, int flags), NO_MODE, dirfd, dirfd, path, flags)
OPEN_WRAPPER(__openat64_2, (int dirfd, const char *path, int flags), NO_MODE, dirfd, dirfd, path, flags)

/* ---- close / dup ---- */

EXPORT int close(int fd)
{
	if (!lookup(fd))
		return REAL(close)(fd);
	struct emu_file *dead = NULL;
	pthread_mutex_lock(&tbl_lock); /* clear before the number can be reused */
	int r = REAL(close)(fd);
	int e = errno;
	adopt(fd, -1, &dead);
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	errno = e;
	return r;
}

/* Called with tbl_lock held, after a successful close_range/closefrom. */
static void forget_range(unsigned first, unsigned last, struct emu_file **dead)
{
	if (last >= MAX_FD)
		last = MAX_FD - 1;
	if (table_owner())
		for (unsigned fd = first; fd <= last; fd++)
			if (lookup(fd))
				slot_set(fd, NULL, dead);
}

EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (!REAL(close_range)) {
		errno = ENOSYS;
		return -1;
	}
	if (eng_state != 1) /* no engine, no table */
		return REAL(close_range)(first, last, flags);
	struct emu_file *dead = NULL;
	pthread_mutex_lock(&tbl_lock);
	int r = REAL(close_range)(first, last, flags);
	int e = errno;
	if (r == 0 && !(flags & CLOSE_RANGE_CLOEXEC) && first <= last)
		forget_range(first, last, &dead);
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	errno = e;
	return r;
}

EXPORT void closefrom(int lowfd)
{
	if (eng_state != 1 || lowfd < 0) {
		REAL(closefrom)(lowfd);
		return;
	}
	struct emu_file *dead = NULL;
	pthread_mutex_lock(&tbl_lock);
	REAL(closefrom)(lowfd);
	forget_range(lowfd, MAX_FD - 1, &dead);
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
}

/* Duplicate via a real call; if old or new fd is emulated, do it under the
 * lock so the table and the kernel fd table change together. */
#define DUP_BODY(oldfd, newfd_hint, call)                              \
	if (!lookup(oldfd) && !lookup(newfd_hint))                     \
		return heal(call);                                     \
	struct emu_file *dead = NULL;                                  \
	pthread_mutex_lock(&tbl_lock);                                 \
	int r = call;                                                  \
	if (r >= 0 && r != (oldfd))                                    \
		r = adopt(r, oldfd, &dead);                            \
	int e = errno;                                                 \
	pthread_mutex_unlock(&tbl_lock);                               \
	release(dead);                                                 \
	errno = e;                                                     \
	return r;

EXPORT int dup(int oldfd) { DUP_BODY(oldfd, -1, REAL(dup)(oldfd)) }
EXPORT int dup2(int oldfd, int newfd) { DUP_BODY(oldfd, newfd, REAL(dup2)(oldfd, newfd)) }
EXPORT int dup3(int oldfd, int newfd, int flags) { DUP_BODY(oldfd, newfd, REAL(dup3)(oldfd, newfd, flags)) }

static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return real(fd, cmd, arg);
	DUP_BODY(fd, -1, real(fd, cmd, arg))
}

#define GET_ARG(last, arg) do { va_list ap; va_start(ap, last); arg = va_arg(ap, void *); va_end(ap); } while (0)

EXPORT int fcntl(int fd, int cmd, ...)
{
	void *arg;
	GET_ARG(cmd, arg);
	return fcntl_common(REAL(fcntl), fd, cmd, arg);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	void *arg;
	GET_ARG(cmd, arg);
	return fcntl_common(REAL(fcntl64), fd, cmd, arg);
}

/* ---- ioctl / read / write / mmap ---- */

EXPORT int ioctl(int fd, unsigned long req, ...)
{
	void *arg;
	GET_ARG(req, arg);
	struct emu_file *f = lookup(fd);
	if (!f)
		return REAL(ioctl)(fd, req, arg);
	if (unlikely(atomic_load_explicit(&f->kind, memory_order_relaxed) != EMU_KIND_IOMMUFD)) {
		errno = ENOTTY; /* object fds have no ioctls */
		return -1;
	}
	/* The kernel's ioctl takes an unsigned int cmd: truncate the same way. */
	struct emu_file *outer = cur_ctx;
	cur_ctx = f;
	int r = eng_ioctl(atomic_load_explicit(&f->handle, memory_order_relaxed),
			  (uint32_t)req, (uint64_t)(uintptr_t)arg);
	cur_ctx = outer;
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return r;
}

/* /dev/iommu has no read/write; object fds pass them to the engine (EINVAL
 * if it lacks the exports) and never to the eventfd, whose counter is the
 * object's poll readiness (host_set_object_readable). As for ioctl, a forked
 * child calls the engine too: it tells inherited objects apart itself.
 * poll/ppoll/select/epoll are not wrapped: they see the eventfd. */
static ssize_t object_rw(struct emu_file *f, uint64_t buf, size_t n,
			 int64_t (*op)(uint64_t, uint64_t, uint64_t))
{
	if (atomic_load_explicit(&f->kind, memory_order_relaxed) != EMU_KIND_OBJECT || !op) {
		errno = EINVAL;
		return -1;
	}
	int64_t r = op(atomic_load_explicit(&f->cookie, memory_order_relaxed), buf, n);
	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	struct emu_file *f = lookup(fd);
	if (unlikely(f))
		return object_rw(f, (uint64_t)(uintptr_t)buf, n, eng_object_read);
	return REAL(read)(fd, buf, n);
}

/* _FORTIFY_SOURCE's read(): glibc's own reads the fd without going through
 * our read(). An overflow is left to the real one to report. */
EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	struct emu_file *f = lookup(fd);
	if (unlikely(f) && n <= buflen)
		return object_rw(f, (uint64_t)(uintptr_t)buf, n, eng_object_read);
	return REAL(__read_chk)(fd, buf, n, buflen);
}

EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	struct emu_file *f = lookup(fd);
	if (unlikely(f))
		return object_rw(f, (uint64_t)(uintptr_t)buf, n, eng_object_write);
	return REAL(write)(fd, buf, n);
}

EXPORT void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	if (unlikely(!(flags & MAP_ANONYMOUS) && lookup(fd))) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	return REAL(mmap)(addr, len, prot, flags, fd, off);
}

EXPORT void *mmap64(void *addr, size_t len, int prot, int flags, int fd, off64_t off)
{
	if (unlikely(!(flags & MAP_ANONYMOUS) && lookup(fd))) {
		errno = ENODEV;
		return MAP_FAILED;
	}
	return REAL(mmap64)(addr, len, prot, flags, fd, off);
}
