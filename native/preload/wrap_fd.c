/* wrap_fd.c - close, close_range, closefrom, dup, dup2, dup3 and fcntl(F_DUPFD*): when an
 * emulated fd is involved, the real call and the table change happen together under tbl_lock,
 * so a number is never reused before the table has forgotten it. The wrappers look alike (lock,
 * real call, table change, unlock, release what died, restore errno) but differ in the call, its
 * result and the table change, which is all each one writes out; the dup family shares one. */
#include "shim.h"
#include <stdarg.h>

EXPORT int close(int fd)
{
	if (!lookup(fd))
		return REAL(close)(fd);
	struct emu_file *dead = NULL;
	pthread_mutex_lock(&tbl_lock);
	int r = REAL(close)(fd);
	int e = errno;
	adopt(fd, -1, &dead);
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	errno = e;
	return r;
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

/* One of the duplicating calls, with its arguments. */
struct dup_call {
	enum { DUP, DUP2, DUP3, FCNTL, FCNTL64 } op;
	int oldfd, newfd, flags; /* newfd -1 when the kernel picks; flags: dup3's or fcntl's cmd */
	void *arg;
};

static int call_dup(const struct dup_call *c)
{
	switch (c->op) {
	case DUP: return REAL(dup)(c->oldfd);
	case DUP2: return REAL(dup2)(c->oldfd, c->newfd);
	case DUP3: return REAL(dup3)(c->oldfd, c->newfd, c->flags);
	case FCNTL: return REAL(fcntl)(c->oldfd, c->flags, c->arg);
	default: return REAL(fcntl64)(c->oldfd, c->flags, c->arg);
	}
}

/* The new fd mirrors the old one's entry (none for a plain fd). */
static int dup_common(const struct dup_call *c)
{
	if (!lookup(c->oldfd) && !lookup(c->newfd))
		return heal(call_dup(c));
	struct emu_file *dead = NULL;
	pthread_mutex_lock(&tbl_lock);
	int r = call_dup(c);
	if (r >= 0 && r != c->oldfd)
		r = adopt(r, c->oldfd, &dead);
	int e = errno;
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	errno = e;
	return r;
}

EXPORT int dup(int oldfd)
{
	return dup_common(&(struct dup_call){ DUP, oldfd, -1, 0, NULL });
}

EXPORT int dup2(int oldfd, int newfd)
{
	return dup_common(&(struct dup_call){ DUP2, oldfd, newfd, 0, NULL });
}

EXPORT int dup3(int oldfd, int newfd, int flags)
{
	return dup_common(&(struct dup_call){ DUP3, oldfd, newfd, flags, NULL });
}

static void *third_arg(va_list ap)
{
	return va_arg(ap, void *);
}

EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	struct dup_call c = { FCNTL, fd, -1, cmd, third_arg(ap) };
	va_end(ap);
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return call_dup(&c);
	return dup_common(&c);
}

EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	struct dup_call c = { FCNTL64, fd, -1, cmd, third_arg(ap) };
	va_end(ap);
	if (cmd != F_DUPFD && cmd != F_DUPFD_CLOEXEC)
		return call_dup(&c);
	return dup_common(&c);
}
