/* fault_debugfs.c - /sys/kernel/debug as a program preparing fault injection sees it: the
 * directories failslab/, fail_page_alloc/ and fail_usercopy/ with the kernel's knob files
 * (probability, interval, times, space, verbose, task-filter, ignore-gfp-wait, ...), each holding
 * the kernel's default. They accept writes and read back what was written; they change nothing
 * (the engine's fault sites follow fail-nth alone, fail_nth.c). Served from a private directory
 * made on first use (under $TMPDIR, else /tmp) and removed at exit by the process that made it:
 * open/openat (absolute paths, and paths relative to a directory fd opened here), fopen and
 * opendir of /sys/kernel/debug itself and of those three directories reach it; every other path,
 * and stat(), reach the real file system.
 */
#include "shim.h"
#include <dirent.h>
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define DEBUGFS "/sys/kernel/debug"

struct knob {
	const char *name, *value;
};

/* The files every fault_attr directory has, with the kernel's defaults. */
static const struct knob common[] = {
	{"probability", "0\n"}, {"interval", "1\n"}, {"times", "1\n"}, {"space", "0\n"},
	{"verbose", "2\n"}, {"verbose_ratelimit_interval_ms", "5000\n"}, {"verbose_ratelimit_burst", "10\n"},
	{"task-filter", "N\n"}, {"stacktrace-depth", "32\n"}, {"require-start", "0\n"},
	{"require-end", "18446744073709551615\n"}, {"reject-start", "0\n"}, {"reject-end", "0\n"},
	{NULL, NULL},
};
static const struct knob failslab[] = {{"ignore-gfp-wait", "Y\n"}, {"cache-filter", "N\n"}, {NULL, NULL}};
static const struct knob page_alloc[] = {
	{"ignore-gfp-wait", "Y\n"}, {"ignore-gfp-highmem", "Y\n"}, {"min-order", "1\n"}, {NULL, NULL},
};
static const struct knob none[] = {{NULL, NULL}};
static const struct {
	const char *dir;
	const struct knob *extra;
} dirs[] = {{"failslab", failslab}, {"fail_page_alloc", page_alloc}, {"fail_usercopy", none}};
#define NDIRS (sizeof(dirs) / sizeof(dirs[0]))

static pthread_mutex_t tree_lock = PTHREAD_MUTEX_INITIALIZER;
static char root[1024]; /* the private directory, "" until made */
static size_t root_len;
static pid_t root_owner;

static int put_file(const char *dir, const struct knob *k)
{
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s/%s", root, dir, k->name);
	int fd = REAL(open)(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	size_t len = strlen(k->value);
	ssize_t w = REAL(write)(fd, k->value, len);
	REAL(close)(fd);
	return w == (ssize_t)len ? 0 : -1;
}

static void remove_tree(void)
{
	if (!root[0] || getpid() != root_owner)
		return;
	char path[PATH_MAX];
	for (size_t d = 0; d < NDIRS; d++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[d].dir);
		DIR *(*real_opendir)(const char *) = (DIR *(*)(const char *))dlsym(RTLD_NEXT, "opendir");
		DIR *dp = real_opendir ? real_opendir(path) : NULL;
		for (struct dirent *e; dp && (e = readdir(dp));) {
			char file[PATH_MAX + 256];
			if (e->d_name[0] != '.' && snprintf(file, sizeof(file), "%s/%s", path, e->d_name) > 0)
				unlink(file);
		}
		if (dp)
			closedir(dp);
		rmdir(path);
	}
	rmdir(root);
}

/* Makes the private tree once; 0, or -1 when it cannot be had (the real paths are used then). */
static int ensure_tree(void)
{
	int rc = 0;
	pthread_mutex_lock(&tree_lock);
	if (!root[0]) {
		const char *tmp = getenv("TMPDIR");
		snprintf(root, sizeof(root), "%s/iommufd-emu-debugfs-XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(root)) {
			root[0] = 0;
			rc = -1;
		}
		for (size_t d = 0; !rc && d < NDIRS; d++) {
			char path[PATH_MAX];
			snprintf(path, sizeof(path), "%s/%s", root, dirs[d].dir);
			rc = mkdir(path, 0700);
			for (const struct knob *k = common; !rc && k->name; k++)
				rc = put_file(dirs[d].dir, k);
			for (const struct knob *k = dirs[d].extra; !rc && k->name; k++)
				rc = put_file(dirs[d].dir, k);
		}
		if (!rc) {
			root_len = strlen(root);
			root_owner = getpid();
			atexit(remove_tree);
		} else if (root[0]) {
			root_owner = getpid();
			remove_tree();
			root[0] = 0;
		}
	}
	pthread_mutex_unlock(&tree_lock);
	return rc;
}

/* The private path for an emulated debugfs path (the root, or inside one of the three
 * directories), else NULL. `rest` is what follows "/sys/kernel/debug". */
static const char *map_rest(const char *rest, char *out, size_t cap)
{
	if (*rest && strcmp(rest, "/")) {
		if (*rest != '/')
			return NULL;
		const char *name = rest + 1;
		size_t d = 0;
		for (; d < NDIRS; d++) {
			size_t n = strlen(dirs[d].dir);
			if (!strncmp(name, dirs[d].dir, n) && (name[n] == 0 || name[n] == '/'))
				break;
		}
		if (d == NDIRS)
			return NULL;
	}
	int saved = errno;
	if (ensure_tree() < 0) {
		errno = saved;
		return NULL;
	}
	errno = saved;
	snprintf(out, cap, "%s%s", root, rest);
	return out;
}

const char *fault_debugfs_path(const char *path, char *out, size_t cap)
{
	if (!path || strncmp(path, DEBUGFS, sizeof(DEBUGFS) - 1))
		return NULL;
	return map_rest(path + sizeof(DEBUGFS) - 1, out, cap);
}

/* Whether dirfd is a directory of the private tree (only asked once the tree exists). */
static int in_tree(int dirfd)
{
	if (!root[0] || dirfd == AT_FDCWD)
		return 0;
	char link[40], target[PATH_MAX];
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
	int saved = errno;
	ssize_t n = readlink(link, target, sizeof(target) - 1);
	errno = saved;
	return n >= (ssize_t)root_len && !memcmp(target, root, root_len) && (n == (ssize_t)root_len || target[root_len] == '/');
}

int fault_debugfs_open(int dirfd, const char *path, int flags, mode_t mode, int *fd)
{
	if (!path)
		return 0;
	char mapped[PATH_MAX];
	const char *real;
	if (path[0] == '/')
		real = fault_debugfs_path(path, mapped, sizeof(mapped));
	else
		real = in_tree(dirfd) ? path : NULL;
	if (!real)
		return 0;
	/* A knob is replaced by each write, as the kernel's are: opening it for writing empties it. */
	if ((flags & O_ACCMODE) != O_RDONLY && !(flags & O_DIRECTORY))
		flags |= O_TRUNC;
	flags &= ~O_CREAT;
	*fd = heal(real == path ? REAL(openat)(dirfd, real, flags, mode) : REAL(open)(real, flags, mode));
	return 1;
}

EXPORT DIR *opendir(const char *name)
{
	static DIR *(*real_opendir)(const char *);
	if (!real_opendir)
		real_opendir = (DIR *(*)(const char *))dlsym(RTLD_NEXT, "opendir");
	char mapped[PATH_MAX];
	const char *real = fault_debugfs_path(name, mapped, sizeof(mapped));
	return real_opendir(real ? real : name);
}
