/* shim.h - what the shim's files share. One file per job:
 *   real_libc.c    the libc functions we wrap, looked up lazily
 *   fd_table.c     fd -> emulated file records, their references and release
 *   copy_signal.c  fault-safe user copies guarded by a SIGSEGV/SIGBUS handler (default)
 *   copy_pvm.c     the same copies through process_vm_readv/writev (IOMMUFD_EMU_COPY=pvm)
 *   host.c         the callbacks the engine calls (struct iommufd_emu_host)
 *   engine.c       loading the engine, fork handlers
 *   kind_*.c       one file per kind of emulated fd: what ioctl/read/write/last close do
 *   wrap_open.c    open() and friends: which paths are emulated
 *   preopen.c      IOMMUFD_EMU_FDS: fds opened at start-up, at the numbers a caller chose
 *   proc_status.c  /proc/<pid>/status with the emulated kernel's VmPin/VmLck; fopen() of it
 *   fail_nth.c     /proc/<pid>/task/<tid>/fail-nth: the engine's per-thread fault injection
 *   fault_debugfs.c /sys/kernel/debug/{failslab,fail_page_alloc,fail_usercopy}: the knobs, stored
 *   wrap_fd.c      close/dup/fcntl: keep the table in step with the kernel's fd table
 *   wrap_io.c      ioctl/read/write/mmap: route an emulated fd to its kind
 *   wrap_pio.c     pread/pwrite and the vector calls, lseek: for kinds with offsets (devices)
 *   map_table.c    mappings of emulated fds and munmap(): tells the engine when one goes
 *
 * Programs that never open an emulated path pay one table load per wrapped call and nothing else
 * (no dlopen, no signal handlers). Limits, by design:
 *  - Only calls through the PLT are seen: fopen() (but for /proc status files), raw syscall(), libc's internal close (fclose
 *    of an fdopen()ed fd) bypass the shim. A stale table entry left that way is dropped when the
 *    number is handed out again by one of the wrapped open/dup calls (heal).
 *  - fork(): the child inherits the table; the engine tells inherited contexts and objects from
 *    the child's own (docs/fork.md). execve(): the new image starts with an empty table, and
 *    inherited non-CLOEXEC eventfds are orphaned plain eventfds.
 *  - poll/select/epoll are not wrapped: they see an object's eventfd, whose counter the shim
 *    keeps at 1 while the engine says the object has something to read and 0 otherwise. Only
 *    read()/__read_chk()/write() reach the engine: readv() or raw syscalls reach the eventfd
 *    (VFIO device fds take readv/writev and the offset calls too: wrap_pio.c).
 *  - vfork()/posix_spawn children share our memory: only the owning process changes the table.
 */
#ifndef SHIM_H
#define SHIM_H
#define _GNU_SOURCE
#undef _FILE_OFFSET_BITS /* we define open AND open64, mmap AND mmap64 */
#undef _TIME_BITS
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "iommufd_emu.h"
#include "real_libc.h"

#define EXPORT __attribute__((visibility("default")))
#define unlikely(x) __builtin_expect(!!(x), 0)

struct emu_file;

/* A kind of emulated fd: what the engine does with it. Each op returns >= 0 or -errno. A new
 * kind (e.g. a VFIO device fd) is one kind_*.c file with one of these, a path in wrap_open.c
 * and its exports in iommufd_emu.h; a new operation (pread, mmap) is a field here. */
struct emu_kind {
	const char *name;
	int (*ioctl)(struct emu_file *f, uint32_t cmd, uint64_t arg);
	int64_t (*read)(struct emu_file *f, uint64_t buf, uint64_t len);
	int64_t (*write)(struct emu_file *f, uint64_t buf, uint64_t len);
	void (*release)(struct emu_file *f); /* its last fd is gone; outside tbl_lock */
	/* Fill `dst` (a fresh mapping of len bytes) with what lives at offset: a cookie > 0 for
	 * map_table.c, 0 when nobody needs to hear of its munmap, or -errno. `shared`: MAP_SHARED.
	 * NULL: the kind cannot be mapped (ENODEV). */
	int64_t (*mmap)(struct emu_file *f, uint64_t offset, uint64_t len, uint64_t dst, int shared);
	/* read/write at an offset (pread, pwrite, the vector calls). NULL: the kind has no offsets
	 * and these calls reach the eventfd as before. */
	int64_t (*pread)(struct emu_file *f, uint64_t buf, uint64_t len, uint64_t offset);
	int64_t (*pwrite)(struct emu_file *f, uint64_t buf, uint64_t len, uint64_t offset);
};
extern const struct emu_kind iommufd_kind; /* kind_iommufd.c: an open("/dev/iommu") */
extern const struct emu_kind object_kind;  /* kind_object.c: fault queue, access fd, ... */
extern const struct emu_kind vfio_device_kind; /* kind_vfio_device.c: /dev/vfio/devices/vfioN */
int iommufd_open(int flags);               /* kind_iommufd.c: the fd or -errno */
int vfio_device_open(const char *name, int flags); /* kind_vfio_device.c: name after devices/ */

/* One per open file description (dup'ed fds share it). The fd itself is a real eventfd, so
 * fd numbers never collide, O_CLOEXEC works and poll has a real file to look at. */
struct emu_file {
	const struct emu_kind *_Atomic kind;
	_Atomic uint64_t id;       /* the engine's name: context handle or object cookie */
	struct emu_file *holds;    /* a record this one keeps alive (an object's context) */
	int refs;                  /* fds naming it, plus records holding it (tbl_lock) */
	struct emu_file *next;     /* free list / release list */
	/* Records the engine names by id for readiness (cookie_list), all under tbl_lock: */
	struct emu_file *list_next, *list_prev;
	int listed;
	int fd;                    /* some fd naming it (a hint: check it) */
	int readable;              /* the eventfd's counter is 1, not 0 */
	dev_t dev;                 /* the eventfd's identity, to tell a */
	ino_t ino;                 /* stale fd number from ours */
	int accmode;               /* O_RDONLY, O_WRONLY or O_RDWR, as opened */
	_Atomic int64_t pos;       /* the file position read()/write() use (device files) */
};

/* ---- fd_table.c ---- */

/* Two-level array indexed by fd, read lock-free (acquire loads); chunks are never freed and
 * records are recycled, never freed, so a racing reader only sees a valid (maybe stale) one. */
#define CHUNK_BITS 10
#define CHUNK_SIZE (1 << CHUNK_BITS)
#define MAX_FD (1 << 20)           /* == default fs.nr_open */
typedef _Atomic(struct emu_file *) slot_t;
extern _Atomic(slot_t *) fd_chunks[MAX_FD / CHUNK_SIZE];
extern pthread_mutex_t tbl_lock;
extern pid_t self_pid;             /* process owning the table */

/* The record behind fd, or NULL: the one check every wrapped call pays. */
static inline struct emu_file *lookup(int fd)
{
	if ((unsigned)fd >= MAX_FD)
		return NULL;
	slot_t *c = atomic_load_explicit(&fd_chunks[fd >> CHUNK_BITS], memory_order_acquire);
	if (!c)
		return NULL;
	return atomic_load_explicit(&c[fd & (CHUNK_SIZE - 1)], memory_order_acquire);
}

static inline const struct emu_kind *kind_of(struct emu_file *f)
{
	return atomic_load_explicit(&f->kind, memory_order_relaxed);
}

static inline uint64_t id_of(struct emu_file *f)
{
	return atomic_load_explicit(&f->id, memory_order_relaxed);
}

int table_owner(void);
int slot_set(int fd, struct emu_file *f, struct emu_file **dead);    /* tbl_lock */
int adopt(int newfd, int oldfd, struct emu_file **dead);            /* tbl_lock */
void forget_range(unsigned first, unsigned last, struct emu_file **dead); /* tbl_lock */
int fd_of(struct emu_file *f);                                      /* tbl_lock */
void cookie_list_add(struct emu_file *f);                           /* tbl_lock */
struct emu_file *cookie_list_find(uint64_t id);                     /* tbl_lock */
void release(struct emu_file *dead);
int heal(int fd);
struct emu_file *add_file_locked(int fd, const struct emu_kind *kind, uint64_t id,
				 struct emu_file **dead, int *rc);                /* tbl_lock */

/* ---- copies: copy_signal.c, copy_pvm.c ---- */

int sig_from_user(void *dst, uint64_t src, uint64_t len);
int sig_to_user(uint64_t dst, const void *src, uint64_t len);
void install_fault_handler(void);
int pvm_from_user(void *dst, uint64_t src, uint64_t len);
int pvm_to_user(uint64_t dst, const void *src, uint64_t len);

/* ---- host.c, engine.c ---- */

/* The context whose ioctl this thread is serving (open_object_fd's ctx). */
extern __thread struct emu_file *cur_ctx __attribute__((tls_model("initial-exec")));
extern struct iommufd_emu_host host;

struct engine_exports {
	int64_t (*open)(void);
	int (*ioctl)(int64_t ctx, uint64_t cmd, uint64_t arg);
	void (*close)(int64_t ctx);
	void (*release_object)(uint64_t cookie);
	int64_t (*object_read)(uint64_t cookie, uint64_t buf, uint64_t len);
	int64_t (*object_write)(uint64_t cookie, uint64_t buf, uint64_t len);
	int (*process_pins)(int32_t pid, struct iommufd_emu_pins *pins);
	int64_t (*mmap)(int64_t ctx, uint64_t offset, uint64_t len, uint64_t dst);
	void (*munmap)(uint64_t cookie);
	int (*fail_nth_set)(int32_t tid, uint32_t n);
	int64_t (*fail_nth_get)(int32_t tid);
	/* VFIO device fds: optional as a group (an engine without them offers 0 devices). */
	int (*device_count)(void);
	int64_t (*device_open)(uint32_t index);
	int (*device_ioctl)(int64_t dev, uint64_t cmd, uint64_t arg);
	int64_t (*device_read)(int64_t dev, uint64_t buf, uint64_t len, uint64_t offset);
	int64_t (*device_write)(int64_t dev, uint64_t buf, uint64_t len, uint64_t offset);
	int (*device_mmap)(int64_t dev, uint64_t offset, uint64_t len);
	void (*device_close)(int64_t dev);
};
extern struct engine_exports eng;
extern int eng_device_count;       /* devices the loaded engine offers (0 without the group) */

/* ---- map_table.c ---- */

/* Remembers that [addr, +len) is the engine's mapping `cookie`: 0, or -ENOMEM. */
int map_record(void *addr, size_t len, uint64_t cookie);
extern _Atomic int eng_state;      /* 0 not loaded, 1 loaded, <0 -errno (sticky) */
int load_engine(void);

/* ---- wrap_pio.c ---- */

/* read()/write() of a kind with offsets: at the file position, which advances by the bytes
 * moved. Bytes moved or -errno. */
int64_t pio_at_position(struct emu_file *f, int write, uint64_t buf, uint64_t len);

/* ---- proc_status.c ---- */

/* 1 with *fd set (as open() returns it) when `path` is a /proc status file the loaded engine
 * has figures for, else 0: open the real file. */
int proc_status_open(const char *path, int flags, int *fd);

/* ---- fail_nth.c, fault_debugfs.c: the kernel's fault-injection files ---- */

/* 1 with *fd set (as open() returns it) when `path` is this process's fail-nth file of one of its
 * threads (the engine is loaded for it), else 0. */
int fail_nth_open(const char *path, int flags, int *fd);
/* The same for the debugfs knobs under /sys/kernel/debug: absolute, or relative to `dirfd` when
 * that is one of their directories. */
int fault_debugfs_open(int dirfd, const char *path, int flags, mode_t mode, int *fd);
/* Where an emulated debugfs path really lives (written to out), or NULL for any other path. */
const char *fault_debugfs_path(const char *path, char *out, size_t cap);

/* A result of the engine (>= 0 or -errno) as libc returns it: -1 with errno set. */
static inline int64_t libc_result(int64_t r)
{
	if (r >= 0)
		return r;
	errno = (int)-r;
	return -1;
}

#endif
