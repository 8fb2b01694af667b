/* preopen.c - IOMMUFD_EMU_FDS="N=PATH,M=PATH,...": before main, open each PATH and place it at
 * exactly fd N, as a management layer hands a VMM its fds (`iommufd-emu run --fd N=PATH`, then
 * `-object iommufd,fd=N`). Decisions:
 *  - PATH goes through our own open(): an emulated path (/dev/iommu, /dev/vfio/devices/vfioN)
 *    gives an emulated fd, anything else the real file. It is opened O_RDWR, or O_RDONLY when it
 *    cannot be written (a read-only file, a directory). Paths are absolute or relative to the
 *    program's working directory; a ',' cannot be part of one.
 *  - The fd is placed with dup2 and has no FD_CLOEXEC: it is meant to be inherited. Whatever N
 *    was before is replaced. Entries are opened in order; N may be any fd number, 0-2 included
 *    (the CLI refuses those).
 *  - The variable is removed afterwards, so the programs this one execs inherit the fds instead
 *    of opening them again.
 *  - A malformed entry, an fd given twice or a failed open prints one line naming the entry to
 *    stderr and ends the process with status 127 before main runs: started with a hole where it
 *    expects its fd, the program would fail later and further from the cause. 127 is also what
 *    `iommufd-emu run` answers when it cannot start the program at all. */
#include "shim.h"
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FDS_VAR "IOMMUFD_EMU_FDS"

static __attribute__((noreturn)) void fail(const char *entry, const char *why)
{
	fprintf(stderr, "iommufd_preload: " FDS_VAR ": %s: %s\n", entry, why);
	_exit(127);
}

/* "N=PATH" -> N, with *path pointing into entry; -1 when malformed. */
static int parse_entry(char *entry, char **path)
{
	char *eq = strchr(entry, '=');
	if (!eq || eq == entry || !eq[1])
		return -1;
	long n = 0;
	for (char *p = entry; p < eq; p++) {
		if (*p < '0' || *p > '9' || n > (INT_MAX - 9) / 10)
			return -1;
		n = n * 10 + (*p - '0');
	}
	*path = eq + 1;
	return (int)n;
}

static int open_either(const char *path)
{
	int fd = open(path, O_RDWR);
	if (fd < 0 && (errno == EACCES || errno == EROFS || errno == EISDIR || errno == ETXTBSY))
		fd = open(path, O_RDONLY);
	return fd;
}

/* Opens path at exactly `target`: 0 or -errno. */
static int place(const char *path, int target)
{
	int fd = open_either(path);
	if (fd < 0)
		return -errno;
	if (fd == target)
		return 0;
	int r = dup2(fd, target) < 0 ? -errno : 0;
	close(fd);
	return r;
}

static int seen_before(const char *list, const char *entry, int target)
{
	char *path;
	for (const char *p = list; p < entry; p += strlen(p) + 1)
		if (parse_entry((char *)p, &path) == target)
			return 1;
	return 0;
}

static __attribute__((constructor)) void open_requested_fds(void)
{
	const char *value = getenv(FDS_VAR);
	if (!value)
		return;
	char *list = strdup(value);
	if (!list)
		fail(value, "out of memory");
	unsetenv(FDS_VAR);
	size_t len = strlen(list);
	for (char *p = list; p < list + len; p++) /* entries become NUL-terminated strings */
		if (*p == ',')
			*p = 0;
	for (char *entry = list; entry < list + len; entry += strlen(entry) + 1) {
		char *path;
		char label[PATH_MAX + 64];
		int target = parse_entry(entry, &path);
		if (target < 0) {
			snprintf(label, sizeof(label), "\"%s\"", entry);
			fail(label, "not N=PATH with N a non-negative fd number");
		}
		snprintf(label, sizeof(label), "fd %d", target);
		if (seen_before(list, entry, target))
			fail(label, "given twice");
		int r = place(path, target);
		if (r < 0) {
			char why[PATH_MAX + 128];
			snprintf(why, sizeof(why), "%s: %s", path, strerror(-r));
			fail(label, why);
		}
	}
	free(list);
}
