/* shim_test_objects.c - object fds: read/write reach the engine with the fd's cookie, and
 * poll/select/epoll see readiness exactly as the engine last set it. */
#include "shim_test.h"

/* The loaded stub's object fd bookkeeping (NULL when `path` is not loaded). */
static struct stub_objects *stub_objects_of(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	return h ? dlsym(h, "stub_objects") : NULL;
}

static int object_fd(int ctxfd, uint64_t cookie) { return ioctl(ctxfd, STUB_OBJECT, &cookie); }

/* The stub engine calls set_object_readable inside an ioctl on ctxfd. */
static int set_readable(int ctxfd, uint64_t cookie, int readable)
{
	struct stub_readable r = { cookie, readable, 0 };
	return ioctl(ctxfd, STUB_READABLE, &r);
}

/* The shim's host callbacks, as the loaded stub engine got them. */
static const struct iommufd_emu_host *host_of(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	const struct iommufd_emu_host *(*get)(void) = h ? dlsym(h, "stub_engine_host") : NULL;
	return get ? get() : NULL;
}

/* What poll() reports for fd right now (0: nothing, -1: error). */
static int revents(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN | POLLOUT };
	int n = poll(&p, 1, 0);
	return n < 0 ? -1 : n ? p.revents : 0;
}

static int select_readable(int fd)
{
	fd_set r;
	struct timeval tv = { 0, 0 };
	FD_ZERO(&r);
	FD_SET(fd, &r);
	return select(fd + 1, &r, NULL, NULL, &tv) == 1 && FD_ISSET(fd, &r);
}

/* An eventfd's counter, from /proc/self/fdinfo (-1: not an eventfd). */
static long long ev_count(int fd)
{
	char path[64], line[256];
	unsigned long long v;
	long long r = -1;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "eventfd-count: %llx", &v) == 1)
			r = (long long)v;
	fclose(f);
	return r;
}

struct delayed_readable { const struct iommufd_emu_host *host; uint64_t cookie; };

static void *readable_later(void *p)
{
	struct delayed_readable *d = p;
	usleep(50 * 1000);
	d->host->set_object_readable(d->cookie, 1);
	return NULL;
}

/* Toggles readiness of a cookie whose fds come and go on another thread. */
struct toggler { const struct iommufd_emu_host *host; uint64_t cookie; int rounds; };

static void *toggle_fn(void *p)
{
	struct toggler *t = p;
	for (int i = 0; i < t->rounds; i++)
		t->host->set_object_readable(t->cookie, i & 1);
	return NULL;
}

void object_fd_checks(int probe)
{
	/* Object fds: read/write reach the engine with the fd's cookie. */
	{
		struct stub_objects *so = stub_objects_of(engine);
		const uint64_t cookie = 0x123456789abcdefull;
		char msg[] = "page response", got[64] = { 0 };
		int ofd = object_fd(probe, cookie);
		CHECK(so && ofd >= 0 && live_via(probe) == 1, "object fd opened (fd %d)", ofd);
		CHECK(write(ofd, msg, sizeof(msg)) == (ssize_t)sizeof(msg) && so->writes == 1 &&
		      so->cookie == cookie && so->buf == (uintptr_t)msg && so->len == sizeof(msg),
		      "write -> iommufd_emu_object_write(cookie, buf, len)");
		CHECK(read(ofd, got, sizeof(got)) == (ssize_t)sizeof(msg) && !memcmp(got, msg, sizeof(msg)) &&
		      so->reads == 1 && so->cookie == cookie && so->buf == (uintptr_t)got && so->len == sizeof(got),
		      "read -> iommufd_emu_object_read(cookie, buf, len), bytes copied back");
		int odup = dup(ofd);
		size_t n = 4;
		CHECK(__read_chk(odup, got, n, sizeof(got)) == 4 && so->reads == 2 && so->cookie == cookie && so->len == 4,
		      "a dup (and fortified read) reaches the same object");
		CHECK(read(ofd, got, 0) == 0 && so->reads == 3 && so->len == 0, "zero-length read is the engine's to answer");
		CHECK(ERRNO_IS(read(ofd, bad_ptr, 4), EFAULT) && ERRNO_IS(write(ofd, bad_ptr, 4), EFAULT),
		      "bad buffer -> EFAULT through the copy callbacks");
		int efd = object_fd(probe, STUB_COOKIE_EAGAIN);
		CHECK(ERRNO_IS(read(efd, got, 8), EAGAIN) && ERRNO_IS(write(efd, got, 8), EAGAIN) &&
		      so->cookie == STUB_COOKIE_EAGAIN, "negative engine result -> -1 with errno");
		int reads = so->reads, writes = so->writes;
		CHECK(ERRNO_IS(read(probe, got, 8), EINVAL) && ERRNO_IS(write(probe, got, 8), EINVAL) &&
		      so->reads == reads && so->writes == writes, "/dev/iommu read/write still EINVAL, engine not asked");
		CHECK(ERRNO_IS(ioctl(ofd, STUB_INFO, got), ENOTTY), "ioctl on an object fd -> ENOTTY");
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			CHECK(read(ofd, got, 8) == 8 && so->reads == reads + 1 && so->cookie == cookie,
			      "forked child: read on an inherited object fd reaches the engine like ioctl");
			fflush(stdout);
			_exit(0);
		}
		waitpid(p, NULL, 0);
		close(efd);
		close(ofd);
		CHECK(so->releases == 1 && so->released == STUB_COOKIE_EAGAIN && read(odup, got, 8) == 8,
		      "object lives while a dup remains");
		close(odup);
		CHECK(so->releases == 2 && so->released == cookie && live_via(probe) == 1, "last close releases it");
	}

	/* Object fd readiness: poll/select/epoll see the eventfd, readable exactly
	 * while the engine last said so; program reads never touch its counter. */
	{
		struct stub_objects *so = stub_objects_of(engine);
		const struct iommufd_emu_host *hst = host_of(engine);
		const uint64_t cookie = 0xfa0175ull, stale_cookie = 0x57a1eull, busy_cookie = 0xb0551ull;
		const int in_out = POLLIN | POLLOUT;
		char got[8];
		alarm(60); /* a blocking eventfd read would hang here */
		CHECK(so && hst && hst->set_object_readable, "engine gets set_object_readable");
		int ofd = object_fd(probe, cookie), odup = dup(ofd);
		CHECK(ofd >= 0 && odup >= 0 && revents(ofd) == POLLOUT && revents(odup) == POLLOUT && ev_count(ofd) == 0,
		      "new object fd polls POLLOUT only");
		CHECK(set_readable(probe, cookie, 1) == 0 && revents(ofd) == in_out && revents(odup) == in_out &&
		      select_readable(ofd), "set_object_readable(1) inside an ioctl -> POLLIN|POLLOUT on the fd and its dup, select readable");
		set_readable(probe, cookie, 1);
		hst->set_object_readable(cookie, 1);
		CHECK(revents(ofd) == in_out && ev_count(ofd) == 1, "repeated readable calls are idempotent (counter %lld)", ev_count(ofd));
		int reads = so->reads;
		size_t n = 8;
		CHECK(read(ofd, got, 8) >= 0 && so->reads == reads + 1 && so->cookie == cookie &&
		      __read_chk(odup, got, n, sizeof(got)) >= 0 && so->reads == reads + 2 &&
		      revents(ofd) == in_out && ev_count(ofd) == 1,
		      "read()/__read_chk() go to the engine, never to the eventfd counter");
		int ep = epoll_create1(EPOLL_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 }, out[2];
		CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, odup, &ev) == 0 && epoll_wait(ep, out, 2, 0) == 1 &&
		      out[0].events == EPOLLIN && out[0].data.u64 == 7, "epoll reports EPOLLIN while readable");
		CHECK(set_readable(probe, cookie, 0) == 0 && revents(ofd) == POLLOUT && revents(odup) == POLLOUT &&
		      !select_readable(ofd) && epoll_wait(ep, out, 2, 0) == 0 && ev_count(ofd) == 0,
		      "set_object_readable(0) -> POLLOUT only; select and epoll quiet");
		hst->set_object_readable(cookie, 0);
		set_readable(probe, cookie, 0);
		CHECK(revents(ofd) == POLLOUT && ev_count(ofd) == 0, "repeated not-readable calls are idempotent and do not block");
		hst->set_object_readable(0xdeadbeefull, 1);
		CHECK(revents(ofd) == POLLOUT && ev_count(ofd) == 0, "an unknown cookie is ignored");

		pthread_t t;
		struct delayed_readable dr = { hst, cookie };
		pthread_create(&t, NULL, readable_later, &dr);
		int woke = epoll_wait(ep, out, 2, 10000);
		pthread_join(t, NULL);
		CHECK(woke == 1 && out[0].events == EPOLLIN, "a blocked epoll_wait wakes when another thread makes it readable");
		so->clear_on_read = 1;
		CHECK(read(ofd, got, 8) >= 0 && revents(ofd) == POLLOUT && epoll_wait(ep, out, 2, 0) == 0,
		      "set_object_readable(0) from inside an object read (queue drained)");
		so->clear_on_read = 0;

		close(odup); /* the newest fd: the one the shim remembers */
		hst->set_object_readable(cookie, 1);
		CHECK(revents(ofd) == in_out && epoll_wait(ep, out, 2, 0) == 1,
		      "newest fd closed: the older one still becomes readable");
		hst->set_object_readable(cookie, 0);
		int releases = so->releases;
		close(ofd);
		CHECK(so->releases == releases + 1 && so->released == cookie, "last close releases it");
		int sv[2];
		CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0, "socketpair reuses the numbers (%d %d, were %d %d)",
		      sv[0], sv[1], ofd, odup);
		hst->set_object_readable(cookie, 1);
		hst->set_object_readable(cookie, 0);
		hst->set_object_readable(cookie, 1);
		CHECK(revents(sv[0]) == POLLOUT && revents(sv[1]) == POLLOUT, "callback after the last close is harmless");
		close(sv[0]);
		close(sv[1]);

		/* An fd closed behind the shim's back, its number now a socket:
		 * the stale entry must not make the shim write to the socket. */
		int sfd = object_fd(probe, stale_cookie);
		syscall(SYS_close, sfd);
		socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
		hst->set_object_readable(stale_cookie, 1);
		CHECK((sv[0] == sfd || sv[1] == sfd) && revents(sv[0]) == POLLOUT && revents(sv[1]) == POLLOUT,
		      "stale object fd number reused by a socket: nothing written to it");
		releases = so->releases;
		close(sv[0]);
		close(sv[1]);
		CHECK(so->releases == releases + 1 && so->released == stale_cookie, "closing the socket drops the stale entry");
		close(ep);

		/* Readiness toggled from two threads while the fds come and go. */
		struct toggler tg = { hst, busy_cookie, 20000 };
		pthread_t tt[2];
		pthread_create(&tt[0], NULL, toggle_fn, &tg);
		pthread_create(&tt[1], NULL, toggle_fn, &tg);
		int ok = 1;
		releases = so->releases;
		for (int i = 0; i < 2000; i++) {
			int b = object_fd(probe, busy_cookie), c = dup(b);
			int r = revents(c);
			ok &= b >= 0 && c >= 0 && (r == POLLOUT || r == in_out);
			close(b);
			close(c);
		}
		pthread_join(tt[0], NULL);
		pthread_join(tt[1], NULL);
		CHECK(ok && so->releases == releases + 2000, "2 threads toggling while 2000 object fds open/dup/close: no hang, no leak");
		int b = object_fd(probe, busy_cookie);
		hst->set_object_readable(busy_cookie, 1);
		int r1 = revents(b);
		long long c1 = ev_count(b);
		hst->set_object_readable(busy_cookie, 0);
		CHECK(r1 == in_out && c1 == 1 && revents(b) == POLLOUT && ev_count(b) == 0, "afterwards a new fd toggles cleanly");
		close(b);
		alarm(0);
	}

}
