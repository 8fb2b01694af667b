/* fail_nth.c - the kernel's fail-nth file for the threads of this process:
 * /proc/thread-self/fail-nth, /proc/self/task/<tid>/fail-nth and /proc/<pid>/task/<tid>/fail-nth
 * (absolute paths, this process's own pid). Writing N (as kstrtouint reads it: decimal, 0x hex,
 * 0 octal, one trailing newline) makes the Nth fault site thread <tid> reaches in the engine fail;
 * reading gives what is left, "0" once the fault was injected (no newline, as the kernel prints
 * it). The kernel counts every fault site of the whole kernel; the engine counts its own
 * (docs/fault-injection.md). Each open is an emulated fd (an eventfd) with its own read position;
 * read()/write() reach it, pread/pwrite/lseek do not (the eventfd answers ESPIPE): reopen to read
 * again. Opening one loads the engine; without it the real file is opened.
 */
#include "shim.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/* A positive decimal number at *p ending at `stop`; 0 when there is none. */
static long number_until(const char **p, char stop)
{
	if (**p < '1' || **p > '9')
		return 0;
	char *end;
	long v = strtol(*p, &end, 10);
	if (*end != stop || v > INT_MAX)
		return 0;
	*p = end + 1;
	return v;
}

/* The thread a fail-nth path of this process names, or 0 when `p` is none. */
static pid_t fail_nth_tid(const char *p)
{
	if (strncmp(p, "/proc/", 6))
		return 0;
	p += 6;
	pid_t tid;
	if (!strncmp(p, "thread-self/", 12)) {
		tid = gettid();
		p += 12;
	} else {
		if (!strncmp(p, "self/", 5))
			p += 5;
		else if (number_until(&p, '/') != getpid())
			return 0;
		if (strncmp(p, "task/", 5))
			return 0;
		p += 5;
		tid = (pid_t)number_until(&p, '/');
		if (!tid)
			return 0;
	}
	return strcmp(p, "fail-nth") ? 0 : tid;
}

/* Whether `tid` is a thread of this process (its task directory exists). */
static int own_thread(pid_t tid)
{
	char dir[48];
	snprintf(dir, sizeof(dir), "/proc/self/task/%d", (int)tid);
	int fd = REAL(open)(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	REAL(close)(fd);
	return 1;
}

/* The record's id: the thread in the low 32 bits, this open's read position above. */
static pid_t tid_of(struct emu_file *f) { return (pid_t)(uint32_t)id_of(f); }
static uint64_t pos_of(struct emu_file *f) { return id_of(f) >> 32; }

static int64_t fail_nth_read(struct emu_file *f, uint64_t buf, uint64_t len)
{
	int64_t n = eng.fail_nth_get(tid_of(f));
	if (n < 0)
		return n;
	char text[24];
	uint64_t size = (uint64_t)snprintf(text, sizeof(text), "%llu", (unsigned long long)n);
	uint64_t pos = pos_of(f);
	if (pos >= size || !len)
		return 0;
	uint64_t count = size - pos < len ? size - pos : len;
	if (host.copy_to_user(buf, text + pos, count) < 0)
		return -EFAULT;
	atomic_store_explicit(&f->id, (uint64_t)(uint32_t)tid_of(f) | ((pos + count) << 32), memory_order_relaxed);
	return (int64_t)count;
}

/* kstrtouint_from_user: at most 21 bytes, base 0, one trailing newline, the whole buffer a number. */
static int64_t fail_nth_write(struct emu_file *f, uint64_t buf, uint64_t len)
{
	char text[22];
	if (len >= sizeof(text))
		return -EINVAL;
	if (host.copy_from_user(text, buf, len) < 0)
		return -EFAULT;
	text[len] = 0;
	size_t used = len;
	if (used && text[used - 1] == '\n')
		text[--used] = 0;
	if (!used || text[0] == '-' || text[0] == ' ')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long long n = strtoull(text[0] == '+' ? text + 1 : text, &end, 0);
	if (*end)
		return -EINVAL;
	if (errno == ERANGE || n > UINT32_MAX)
		return -ERANGE;
	int rc = eng.fail_nth_set(tid_of(f), (uint32_t)n);
	return rc < 0 ? rc : (int64_t)len;
}

static int fail_nth_ioctl(struct emu_file *f, uint32_t cmd, uint64_t arg)
{
	(void)f, (void)cmd, (void)arg;
	return -ENOTTY;
}

static void fail_nth_release(struct emu_file *f)
{
	(void)f;
}

static const struct emu_kind fail_nth_kind = {
	.name = "fail-nth",
	.ioctl = fail_nth_ioctl,
	.read = fail_nth_read,
	.write = fail_nth_write,
	.release = fail_nth_release,
};

int fail_nth_open(const char *path, int flags, int *fd)
{
	if (!path || path[0] != '/')
		return 0;
	pid_t tid = fail_nth_tid(path);
	if (!tid || !own_thread(tid))
		return 0;
	int saved = errno;
	if (load_engine() != 1) {
		errno = saved;
		return 0; /* the real file, if the kernel has one */
	}
	int efd = eventfd(0, EFD_NONBLOCK | ((flags & O_CLOEXEC) ? EFD_CLOEXEC : 0));
	if (efd < 0) {
		*fd = -1;
		return 1;
	}
	struct emu_file *dead = NULL;
	int rc = 0;
	pthread_mutex_lock(&tbl_lock);
	add_file_locked(efd, &fail_nth_kind, (uint64_t)(uint32_t)tid, &dead, &rc);
	pthread_mutex_unlock(&tbl_lock);
	release(dead);
	if (rc < 0) {
		REAL(close)(efd);
		errno = -rc;
		*fd = -1;
		return 1;
	}
	errno = saved;
	*fd = efd;
	return 1;
}
