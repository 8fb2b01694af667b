/* engine.c - loading the engine (IOMMUFD_EMU_ENGINE) on the first emulated open (/dev/iommu or a
 * VFIO device), and the shim's fork handlers.
 *
 * Fork ordering (docs/native-boundary.md). pthread_atfork runs prepare handlers in the reverse
 * order of registration and parent/child handlers in order, so registering ours BEFORE the
 * engine's init registers its own gives, around every fork():
 *   1. the engine's prepare: closes its call gate and waits for every thread inside the engine
 *      to leave. A thread inside may call back into us (open_object_fd, set_object_readable,
 *      close_fd) and take tbl_lock, which is still free;
 *   2. ours: takes eng_lock and tbl_lock, so the child never inherits them held;
 *   3. fork; ours release both (parent and child); then the engine's parent handler opens its
 *      gate again.
 * Registered the other way round, step 2 would run first and a thread inside the engine
 * waiting for tbl_lock could not leave: the engine would wait out its timeout and fork with
 * that thread mid-engine (test/shim_test.c: "fork waits for a thread inside the engine").
 */
#include "shim.h"
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct engine_exports eng;
_Atomic int eng_state;
static pthread_mutex_t eng_lock = PTHREAD_MUTEX_INITIALIZER;

static int debug_on(void)
{
	const char *d = getenv("IOMMUFD_EMU_DEBUG");
	return d && !strcmp(d, "1");
}

static void debug(const char *what, const char *detail)
{
	if (debug_on())
		fprintf(stderr, "iommufd_preload: %s%s\n", what, detail ? detail : "");
}

static void fork_prepare(void) { pthread_mutex_lock(&eng_lock); pthread_mutex_lock(&tbl_lock); }
static void fork_parent(void) { pthread_mutex_unlock(&tbl_lock); pthread_mutex_unlock(&eng_lock); }
static void fork_child(void)
{
	self_pid = getpid();
	fork_parent();
}

/* The VFIO device group, all or nothing: an engine built before device fds (or one without
 * them) offers no devices, and every /dev/vfio/devices/vfioN is ENOENT. */
int eng_device_count;

static void find_device_exports(void *h)
{
	eng.device_count = dlsym(h, "iommufd_emu_device_count");
	eng.device_open = dlsym(h, "iommufd_emu_device_open");
	eng.device_ioctl = dlsym(h, "iommufd_emu_device_ioctl");
	eng.device_read = dlsym(h, "iommufd_emu_device_read");
	eng.device_write = dlsym(h, "iommufd_emu_device_write");
	eng.device_mmap = dlsym(h, "iommufd_emu_device_mmap");
	eng.device_close = dlsym(h, "iommufd_emu_device_close");
	if (!(eng.device_count && eng.device_open && eng.device_ioctl && eng.device_read &&
	      eng.device_write && eng.device_mmap && eng.device_close))
		eng.device_count = NULL;
}

/* Every other export is required: the shim and the engine are built and shipped together. */
static int find_exports(void *h, int (**init)(const struct iommufd_emu_host *))
{
	*init = dlsym(h, "iommufd_emu_init");
	eng.open = dlsym(h, "iommufd_emu_open");
	eng.ioctl = dlsym(h, "iommufd_emu_ioctl");
	eng.close = dlsym(h, "iommufd_emu_close");
	eng.release_object = dlsym(h, "iommufd_emu_release_object");
	eng.object_read = dlsym(h, "iommufd_emu_object_read");
	eng.object_write = dlsym(h, "iommufd_emu_object_write");
	eng.process_pins = dlsym(h, "iommufd_emu_process_pins");
	eng.mmap = dlsym(h, "iommufd_emu_mmap");
	eng.munmap = dlsym(h, "iommufd_emu_munmap");
	eng.fail_nth_set = dlsym(h, "iommufd_emu_fail_nth_set");
	eng.fail_nth_get = dlsym(h, "iommufd_emu_fail_nth_get");
	return *init && eng.open && eng.ioctl && eng.close && eng.release_object &&
	       eng.object_read && eng.object_write && eng.process_pins && eng.mmap && eng.munmap &&
	       eng.fail_nth_set && eng.fail_nth_get;
}

static int load_engine_locked(void)
{
	const char *path = getenv("IOMMUFD_EMU_ENGINE");
	if (!path || !*path) {
		debug("IOMMUFD_EMU_ENGINE not set", NULL);
		return -ENOENT;    /* not sticky: nothing was attempted */
	}
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		debug("dlopen failed: ", dlerror());
		return eng_state = -ENOENT;
	}
	int (*init)(const struct iommufd_emu_host *);
	if (!find_exports(h, &init)) {
		debug("lacks the iommufd_emu_* exports: ", path);
		return eng_state = -ENOENT;
	}
	find_device_exports(h);
	/* Resolved now, not first under tbl_lock (host.c: set_counter). */
	(void)REAL(read);
	(void)REAL(write);
	const char *mode = getenv("IOMMUFD_EMU_COPY");
	int pvm = mode && !strcmp(mode, "pvm");
	host.copy_from_user = pvm ? pvm_from_user : sig_from_user;
	host.copy_to_user = pvm ? pvm_to_user : sig_to_user;
	self_pid = getpid();
	/* Before init, so the engine's fork handlers run outside ours (see the top). */
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	int rc = init(&host);
	if (rc < 0) {
		debug("iommufd_emu_init failed", NULL);
		return eng_state = rc;
	}
	if (eng.device_count) { /* fixed for the process: asked once */
		int n = eng.device_count();
		eng_device_count = n > 0 ? n : 0;
	}
	if (!pvm)
		install_fault_handler(); /* after init: the runtime's handlers are the ones we chain to */
	debug(pvm ? "engine loaded, copy=pvm: " : "engine loaded, copy=signal: ", path);
	return eng_state = 1;
}

/* 1 once the engine is loaded, else -errno (sticky once a load was attempted). */
int load_engine(void)
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
