/* vm_pin.c - /proc/<pid>/status shows the emulated kernel's pin accounting: pages the engine
 * pins count in VmPin (and in VmLck in process accounting mode), IOMMU_IOAS_CHANGE_PROCESS
 * from a forked child moves them to the child, as the parent and the child each see it; every
 * other line of the file stays the kernel's. Run once per accounting mode. */
#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "iommufd_helpers.h"
#include "selftest_uapi.h"

#define PAGE 4096UL
#define IOMMU_IOAS_CHANGE_PROCESS IOMMU_CMD(0x92)

struct iommu_ioas_change_process {
	uint32_t size, __reserved;
};


/* A status line's value ("VmPin:" -> kB), read the way programs do: fopen and fgets. */
static long status_value(pid_t pid, const char *label)
{
	char path[64], line[256];
	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	FILE *f = fopen(path, "r");
	long v = -1;
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, label, strlen(label)))
			v = strtol(line + strlen(label), NULL, 10);
	if (f)
		fclose(f);
	return v;
}

/* The same through open/read of /proc/self/status. */
static long self_value_by_open(const char *label)
{
	static char buf[65536];
	int fd = open("/proc/self/status", O_RDONLY);
	ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = 0;
	const char *p = strstr(buf, label);
	return p ? strtol(p + strlen(label), NULL, 10) : -1;
}

static int change_process(int fd)
{
	struct iommu_ioas_change_process c = { .size = sizeof(c) };
	return ioctl(fd, IOMMU_IOAS_CHANGE_PROCESS, &c);
}

static void run(int process_mode)
{
	const char *mode = process_mode ? "process mode" : "user mode";
	long kb = (long)PAGE / 1024;
	pid_t self = getpid();
	long pin0 = status_value(self, "VmPin:"), lck0 = status_value(self, "VmLck:");
	int fd = open_iommufd();
	struct iommu_option opt = { .size = sizeof(opt), .option_id = 0, .op = 0, .val64 = (uint64_t)process_mode };
	CHECK_ERR(ioctl(fd, IOMMU_OPTION, &opt), 0);
	uint32_t ioas = ioas_alloc(fd);
	struct iommu_test_cmd md = { .size = sizeof(md), .op = TEST_OP_MOCK_DOMAIN, .id = ioas };
	CHECK_ERR(ioctl(fd, IOMMU_TEST_CMD, &md), 0);

	int mfd = memfd_create("vm_pin", 0);
	CHECK(mfd >= 0 && ftruncate(mfd, 2 * PAGE) == 0, "%s: a two-page memfd", mode);
	struct iommu_ioas_map_file m = {
		.size = sizeof(m), .flags = MAP_RW, .ioas_id = ioas, .fd = mfd, .length = 2 * PAGE,
	};
	CHECK_ERR(ioctl(fd, IOMMU_IOAS_MAP_FILE, &m), 0);
	CHECK(status_value(self, "VmPin:") == pin0 + 2 * kb, "%s: VmPin +2 pages after MAP_FILE with a domain (%ld kB)",
	      mode, status_value(self, "VmPin:"));
	CHECK(self_value_by_open("VmPin:") == pin0 + 2 * kb, "%s: the same through open(/proc/self/status)", mode);
	CHECK(status_value(self, "VmLck:") == lck0 + (process_mode ? 2 * kb : 0), "%s: VmLck %s", mode,
	      process_mode ? "+2 pages" : "unchanged");
	CHECK(status_value(self, "Pid:") == self && status_value(self, "Tgid:") == self, "%s: other lines are the kernel's", mode);

	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		pid_t me = getpid();
		int ok = status_value(self, "VmPin:") == pin0 + 2 * kb && status_value(me, "VmPin:") == 0;
		ok = ok && change_process(fd) == 0;
		ok = ok && status_value(self, "VmPin:") == pin0 && status_value(me, "VmPin:") == 2 * kb;
		ok = ok && status_value(me, "VmLck:") == (process_mode ? 2 * kb : 0) && status_value(self, "VmLck:") == lck0;
		ok = ok && status_value(me, "Pid:") == me;
		_exit(ok ? 0 : 1);
	}
	int st = -1;
	waitpid(child, &st, 0);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
	      "%s: a forked child sees the parent's pins, takes them with CHANGE_PROCESS, and both see the move", mode);
	CHECK(status_value(self, "VmPin:") == pin0, "%s: the parent's VmPin after the move (%ld kB)", mode,
	      status_value(self, "VmPin:"));
	CHECK_ERR(change_process(fd), 0);
	CHECK(status_value(self, "VmPin:") == pin0 + 2 * kb, "%s: and back with the parent's CHANGE_PROCESS", mode);
	close(fd);
	CHECK(status_value(self, "VmPin:") == pin0 && status_value(self, "VmLck:") == lck0,
	      "%s: closing the context releases the pins", mode);
	close(mfd);
}

int main(void)
{
	run(0);
	run(1);
	return check_done("vm_pin");
}
