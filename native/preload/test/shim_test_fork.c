/* shim_test_fork.c - the order of the fork handlers (native/preload/engine.c): the engine's
 * prepare handler must run before the shim's takes tbl_lock, or a thread inside the engine
 * that calls back into the shim (open_object_fd) cannot leave and the fork goes ahead with it
 * mid-engine. The stub engine's prepare handler waits for such a thread as the real engine's
 * call gate does and counts the forks it had to give up on. */
#include "shim_test.h"

struct slow_call { int ctxfd; int fd; };

static void *slow_object_call(void *p)
{
	struct slow_call *c = p;
	uint64_t cookie = 0x5107ull;
	c->fd = ioctl(c->ctxfd, STUB_SLOW_OBJECT, &cookie);
	return NULL;
}

void fork_order_checks(int probe)
{
	void *h = dlopen(engine, RTLD_NOW | RTLD_NOLOAD);
	struct stub_gate *gate = h ? dlsym(h, "stub_gate") : NULL;
	CHECK(gate != NULL, "stub engine exports its call gate");
	if (!gate)
		return;
	atomic_store(&gate->armed, 1);
	struct slow_call call = { probe, -1 };
	pthread_t t;
	pthread_create(&t, NULL, slow_object_call, &call);
	while (!atomic_load(&gate->inside))
		sched_yield();
	fflush(stdout);
	pid_t p = fork();
	if (p == 0)
		_exit(0);
	waitpid(p, NULL, 0);
	pthread_join(t, NULL);
	atomic_store(&gate->armed, 0);
	CHECK(atomic_load(&gate->timeouts) == 0 && call.fd >= 0,
	      "fork waits for a thread inside the engine that opens an object fd (timeouts %d, fd %d)",
	      atomic_load(&gate->timeouts), call.fd);
	close(call.fd);
}
