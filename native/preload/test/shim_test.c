/* shim_test.c - self-test for libiommufd_preload.so against the stub engine.
 * Run: LD_PRELOAD=build/libiommufd_preload.so \
 *      IOMMUFD_EMU_ENGINE=$PWD/build/libstub_engine.so build/shim_test */
#include "shim_test.h"

const char *engine;
struct results *res;
int *volatile bad_ptr = (int *)16; /* opaque to the compiler */
long page;

static int in_maps(const char *needle)
{
	char line[4096];
	int found = 0;
	FILE *f = fopen("/proc/self/maps", "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			found = 1;
	fclose(f);
	return found;
}

int destroy(int fd, void *arg) { return ioctl(fd, IOMMU_DESTROY, arg); }

/* -1 on error, else fills live/handle. */
static int info(int fd, uint32_t *live, int64_t *handle)
{
	struct stub_info i;
	if (ioctl(fd, STUB_INFO, &i) < 0)
		return -1;
	if (live)
		*live = i.live;
	if (handle)
		*handle = i.handle;
	return 0;
}

uint32_t live_via(int fd)
{
	uint32_t l = ~0u;
	info(fd, &l, NULL);
	return l;
}

/* Run fn in a forked child; returns the wait status. */
int in_child(void (*fn)(void))
{
	fflush(stdout);
	pid_t p = fork();
	if (p == 0) {
		fn();
		fflush(stdout);
		_exit(0);
	}
	int st = -1;
	waitpid(p, &st, 0);
	return st;
}

/* ---- checks that must run before the engine is loaded ---- */

static void child_no_engine_env(void)
{
	unsetenv("IOMMUFD_EMU_ENGINE");
	CHECK(ERRNO_IS(open("/dev/iommu", O_RDWR), ENOENT), "open without IOMMUFD_EMU_ENGINE -> ENOENT");
	CHECK(in_maps("stub_engine") == 0, "failed open loaded no engine");
}

static void child_bad_engine(void)
{
	setenv("IOMMUFD_EMU_ENGINE", "/nonexistent/libnothing.so", 1);
	CHECK(ERRNO_IS(open("/dev/iommu", O_RDWR), ENOENT), "open with unloadable engine -> ENOENT");
	CHECK(ERRNO_IS(open("/dev/iommu", O_RDWR), ENOENT), "second open still ENOENT");
}

static void fault_checks(const char *mode)
{
	int fd = open("/dev/iommu", O_RDWR);
	struct iommu_destroy d = { sizeof(d), 12345 };
	char *pg = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	mprotect(pg + page, page, PROT_NONE);
	CHECK(ERRNO_IS(destroy(fd, &d), ENOENT), "[%s] DESTROY(unknown id) -> ENOENT", mode);
	CHECK(ERRNO_IS(destroy(fd, (void *)8), EFAULT), "[%s] DESTROY((void*)8) -> EFAULT", mode);
	CHECK(ERRNO_IS(destroy(fd, pg + page), EFAULT), "[%s] DESTROY(PROT_NONE page) -> EFAULT", mode);
	memcpy(pg + page - 4, &d, 4); /* size readable, id not */
	CHECK(ERRNO_IS(destroy(fd, pg + page - 4), EFAULT), "[%s] DESTROY(struct straddling into PROT_NONE) -> EFAULT", mode);
	CHECK(ERRNO_IS(destroy(fd, (void *)(~0ul - 3)), EFAULT), "[%s] DESTROY(address+len wraps) -> EFAULT", mode);
	CHECK(ERRNO_IS(destroy(fd, (void *)0x8000000000000000ul), EFAULT), "[%s] DESTROY(non-canonical) -> EFAULT", mode);
	mprotect(pg, page, PROT_READ);
	CHECK(ERRNO_IS(ioctl(fd, STUB_INFO, pg), EFAULT), "[%s] copy_to_user into read-only page -> EFAULT", mode);
	CHECK(ERRNO_IS(ioctl(fd, STUB_INFO, NULL), EFAULT), "[%s] copy_to_user to NULL -> EFAULT", mode);
	CHECK(info(fd, NULL, NULL) == 0, "[%s] copy_to_user to valid memory works", mode);
#if defined(__x86_64__)
	uint32_t mx = 0x1f80 | (1u << 13) /* round down */, mx2;
	__asm__ volatile("ldmxcsr %0" : : "m"(mx));
	destroy(fd, (void *)8);
	__asm__ volatile("stmxcsr %0" : "=m"(mx2));
	__asm__ volatile("ldmxcsr %0" : : "m"((uint32_t){ 0x1f80 }));
	CHECK(mx2 == mx, "[%s] MXCSR preserved across a faulting copy (%#x)", mode, mx2);
#endif
	munmap(pg, 2 * page);
	close(fd);
}

static void child_pvm(void)
{
	setenv("IOMMUFD_EMU_COPY", "pvm", 1);
	fault_checks("pvm");
	struct sigaction sa;
	sigaction(SIGSEGV, NULL, &sa);
	CHECK(sa.sa_handler == SIG_DFL, "[pvm] no SIGSEGV handler installed in pvm mode");
}

static void child_crash(void)
{
	struct rlimit r = { 0, 0 };
	setrlimit(RLIMIT_CORE, &r);
	close(open("/dev/iommu", O_RDWR)); /* installs the guard handler over SIG_DFL */
	*bad_ptr = 1;                      /* must still kill us with SIGSEGV */
}

/* ---- chaining to a handler installed before the engine ---- */

static sigjmp_buf test_jmp;
static volatile int test_handler_hits;
static void test_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig; (void)si; (void)uc;
	test_handler_hits++;
	siglongjmp(test_jmp, 1);
}

static __attribute__((noinline)) void fault_outside_guard(void)
{
	if (sigsetjmp(test_jmp, 1) == 0)
		*bad_ptr = 1;
}

/* A vfork child shares our memory but not our fd table. */
static __attribute__((noinline)) void close_in_vfork_child(int fd)
{
	pid_t v = vfork();
	if (v == 0) {
		close(fd);
		_exit(0);
	}
	waitpid(v, NULL, 0);
}

/* ---- threads ---- */

static void *thread_fn(void *p)
{
	long *errors = p;
	for (int i = 0; i < 500; i++) {
		int fd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
		int fd2 = dup(fd);
		struct iommu_destroy d = { sizeof(d), 1 };
		if (fd < 0 || fd2 < 0 || !ERRNO_IS(destroy(fd2, &d), ENOENT) ||
		    !ERRNO_IS(destroy(fd, (void *)8), EFAULT))
			(*errors)++;
		close(fd);
		if (!ERRNO_IS(destroy(fd2, &d), ENOENT))
			(*errors)++;
		close(fd2);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	res = mmap(NULL, sizeof(*res), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	page = sysconf(_SC_PAGESIZE);
	engine = getenv("IOMMUFD_EMU_ENGINE");
	if (argc > 1 && !strcmp(argv[1], "--pre-opened")) /* exec'd by preopen_checks */
		return preopened_main();
	if (in_maps("libiommufd_preload") != 1 || !engine) {
		fprintf(stderr, "run with LD_PRELOAD=libiommufd_preload.so IOMMUFD_EMU_ENGINE=/abs/libstub_engine.so\n");
		printf("shim: 0 passed, 1 failed\n");
		return 1;
	}

	/* A program that never opens /dev/iommu. */
	{
		char path[] = "/tmp/shim_test.XXXXXX", buf[8] = { 0 };
		int fd = mkstemp(path);
		int ok = fd >= 0 && write(fd, "hello", 5) == 5 && lseek(fd, 0, SEEK_SET) == 0;
		int fd2 = dup(fd), fd3 = fcntl(fd, F_DUPFD_CLOEXEC, 50);
		ok = ok && read(fd2, buf, 5) == 5 && !strcmp(buf, "hello") && fd3 >= 50;
		ok = ok && close(fd3) == 0 && close(fd2) == 0 && close(fd) == 0 && unlink(path) == 0;
		int nfd = open("/dev/null", O_RDONLY);
		ok = ok && ERRNO_IS(ioctl(nfd, IOMMU_DESTROY, 0), ENOTTY) && close(nfd) == 0;
		ok = ok && ERRNO_IS(close(nfd), EBADF);
		CHECK(ok, "ordinary file I/O, dup, fcntl, ioctl pass through");
		CHECK(in_maps("stub_engine") == 0, "engine not loaded before /dev/iommu is opened");
		struct sigaction sa;
		sigaction(SIGSEGV, NULL, &sa);
		CHECK(sa.sa_handler == SIG_DFL, "no SIGSEGV handler installed before /dev/iommu is opened");
	}

	status_checks_unloaded();
	device_checks_unloaded();
	in_child(child_no_engine_env);
	in_child(child_bad_engine);
	in_child(child_pvm);
	int st = in_child(child_crash);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV,
	      "unrelated SIGSEGV with SIG_DFL underneath still kills the process (status %#x)", st);

	/* Install a handler of our own first: the shim must chain to it. */
	struct sigaction sa, cur;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = test_segv;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGSEGV, &sa, NULL);

	int fd = open("/dev/iommu", O_RDWR);
	CHECK(fd >= 0, "open(\"/dev/iommu\") -> fd %d", fd);
	CHECK(in_maps("stub_engine") == 1, "engine loaded on first open");
	sigaction(SIGSEGV, NULL, &cur);
	CHECK(cur.sa_sigaction != test_segv, "guard handler installed over the existing one");
	fault_outside_guard();
	CHECK(test_handler_hits == 1, "fault outside a guarded copy chains to the previous handler");

	fault_checks("signal");
	struct iommu_destroy d = { sizeof(d), 7 };
	CHECK(ERRNO_IS(ioctl(fd, _IO(';', 0x99), &d), ENOTTY), "unknown ioctl -> ENOTTY");
	CHECK(ERRNO_IS(ioctl(fd, 0xffffffff00003b80ul, &d), ENOENT), "ioctl cmd truncated to 32 bits like the kernel");
	char buf[16];
	CHECK(ERRNO_IS(read(fd, buf, 8), EINVAL), "read -> EINVAL");
	CHECK(ERRNO_IS(write(fd, buf, 8), EINVAL), "write -> EINVAL");
	CHECK(mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED && errno == ENXIO, "mmap of nothing offered -> the engine's ENXIO");
	unsigned char *m = mmap(NULL, page, PROT_READ, MAP_SHARED, fd, STUB_MAP_OFFSET);
	CHECK(m != MAP_FAILED && m[0] == STUB_MAP_BYTE && m[page - 1] == STUB_MAP_BYTE, "mmap of an offered region -> the engine's bytes");
	void *stub = dlopen(getenv("IOMMUFD_EMU_ENGINE"), RTLD_NOW | RTLD_NOLOAD);
	struct stub_maps *maps = stub ? dlsym(stub, "stub_maps") : NULL;
	CHECK(m != MAP_FAILED && munmap(m, page) == 0 && maps && maps->unmaps == 1 && maps->unmapped == STUB_MAP_COOKIE,
	      "munmap of the whole mapping -> the engine is told once");
	CHECK(!(fcntl(fd, F_GETFD) & FD_CLOEXEC), "no O_CLOEXEC -> no FD_CLOEXEC");
	int cfd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	CHECK(fcntl(cfd, F_GETFD) & FD_CLOEXEC, "O_CLOEXEC -> FD_CLOEXEC");
	close(cfd);

	/* dup family shares one context. */
	int64_t h0 = -1, h = -2;
	uint32_t live = 0;
	info(fd, &live, &h0);
	CHECK(live == 1, "one live context (live=%u)", live);
	int a = dup(fd), b = dup2(fd, 100), c = dup3(fd, 101, O_CLOEXEC);
	int e = fcntl(fd, F_DUPFD, 200), f = fcntl(fd, F_DUPFD_CLOEXEC, 300);
	int dups[] = { a, b, c, e, f }, shared = 1;
	for (int i = 0; i < 5; i++)
		shared &= info(dups[i], &live, &h) == 0 && h == h0 && live == 1;
	CHECK(shared && b == 100 && c == 101 && e >= 200 && f >= 300,
	      "dup/dup2/dup3/F_DUPFD/F_DUPFD_CLOEXEC share the context");
	CHECK(fcntl(c, F_GETFD) & FD_CLOEXEC, "dup3(O_CLOEXEC) sets FD_CLOEXEC");
	close(fd);
	for (int i = 0; i < 4; i++)
		close(dups[i]);
	CHECK(info(f, &live, &h) == 0 && h == h0 && live == 1, "context alive while one dup remains");
	close(f);
	int probe = open("/dev/iommu", O_RDWR);
	CHECK(live_via(probe) == 1, "last close freed the context");
	CHECK(ERRNO_IS(ioctl(f, STUB_INFO, &d), EBADF), "ioctl on closed fd -> EBADF (kernel)");

	/* Two opens, two contexts; dup2 onto an emulated fd drops its ref. */
	int x = open("/dev/iommu", O_RDWR);
	int64_t hp = -1, hx = -2;
	info(probe, NULL, &hp);
	info(x, &live, &hx);
	CHECK(live == 2 && hp != hx, "two opens are two contexts");
	int nul = open("/dev/null", O_RDWR);
	CHECK(dup2(nul, x) == x && live_via(probe) == 1, "dup2(non-emulated, emulated) frees the old context");
	CHECK(read(x, buf, 8) == 0, "that fd now is /dev/null");
	int y = open("/dev/iommu", O_RDWR);
	CHECK(dup2(probe, y) == y && live_via(probe) == 1 && info(y, NULL, &h) == 0 && h == hp,
	      "dup2(emulated, emulated) drops the target's context");
	close(y);
	close(x);
	close(nul);

	/* Every open entry point. */
	{
		int dirfd = open("/dev", O_RDONLY | O_DIRECTORY);
		int fds[] = {
			open64("/dev/iommu", O_RDWR), openat(AT_FDCWD, "/dev/iommu", O_RDWR),
			openat64(AT_FDCWD, "/dev/iommu", O_RDWR), __open_2("/dev/iommu", O_RDWR),
			__open64_2("/dev/iommu", O_RDWR), __openat_2(AT_FDCWD, "/dev/iommu", O_RDWR),
			__openat64_2(AT_FDCWD, "/dev/iommu", O_RDWR), openat(dirfd, "iommu", O_RDWR),
			openat(-1, "/dev/iommu", O_RDWR),
		};
		int n = sizeof(fds) / sizeof(fds[0]), ok = 1;
		for (int i = 0; i < n; i++)
			ok &= fds[i] >= 0 && ERRNO_IS(destroy(fds[i], &d), ENOENT);
		CHECK(ok && live_via(probe) == 1u + n, "open64/openat/openat64/__open*_2/openat(dirfd of /dev) emulate");
		for (int i = 0; i < n; i++)
			close(fds[i]);
		char cwd[4096];
		int cd = getcwd(cwd, sizeof(cwd)) && chdir("/dev") == 0;
		int r1 = open("iommu", O_RDWR), r2 = open("./iommu", O_RDWR);
		cd = cd && chdir(cwd) == 0;
		CHECK(cd && r1 >= 0 && r2 >= 0 && live_via(probe) == 3, "relative \"iommu\" with cwd /dev emulates");
		close(r1);
		close(r2);
		close(dirfd);
		CHECK(live_via(probe) == 1, "all closed again");
	}

	/* close_range drops emulated fds. */
	{
		int lo = open("/dev/iommu", O_RDWR), mid = dup(lo), hi = open("/dev/iommu", O_RDWR);
		int top = mid > hi ? mid : hi;
		CHECK(live_via(probe) == 3, "close_range setup");
		CHECK(close_range(lo, top, 0) == 0 && live_via(probe) == 1, "close_range frees the contexts");
	}

	/* An fd closed behind the shim's back (raw syscall) is healed when reused. */
	{
		int s = open("/dev/iommu", O_RDWR);
		syscall(SYS_close, s);
		int n2 = open("/dev/null", O_RDONLY);
		CHECK(n2 == s && read(n2, buf, 8) == 0 && live_via(probe) == 1,
		      "stale entry dropped when the fd number is reused");
		close(n2);
	}

	/* fork: the child gets its own contexts; the parent is unaffected. */
	{
		int pfd = open("/dev/iommu", O_RDWR);
		fflush(stdout);
		pid_t p = fork();
		if (p == 0) {
			int cfd2 = open("/dev/iommu", O_RDWR);
			int64_t ch = -1;
			int ok = cfd2 >= 0 && ERRNO_IS(destroy(cfd2, &d), ENOENT) &&
				 info(cfd2, &live, &ch) == 0 && live == 3 && ch != hp;
			CHECK(ok, "child after fork opens and uses its own context");
			CHECK(ERRNO_IS(destroy(pfd, &d), ENOENT), "child can use the inherited fd");
			close(cfd2);
			close(pfd);
			CHECK(live_via(probe) == 1, "child closes free the child's copies");
			fflush(stdout);
			_exit(0);
		}
		waitpid(p, NULL, 0);
		CHECK(live_via(probe) == 2 && ERRNO_IS(destroy(pfd, &d), ENOENT), "parent unaffected by the child");
		close_in_vfork_child(pfd);
		CHECK(live_via(probe) == 2 && ERRNO_IS(destroy(pfd, &d), ENOENT), "close in a vfork child leaves the parent's table alone");
		close(pfd);
	}

	status_checks();
	object_fd_checks(probe);
	fork_order_checks(probe);
	device_checks(probe);
	preopen_checks();

	/* Threads hammering open/dup/ioctl/close. */
	{
		pthread_t t[4];
		long errors[4] = { 0 };
		for (int i = 0; i < 4; i++)
			pthread_create(&t[i], NULL, thread_fn, &errors[i]);
		for (int i = 0; i < 4; i++)
			pthread_join(t[i], NULL);
		CHECK(errors[0] + errors[1] + errors[2] + errors[3] == 0 && live_via(probe) == 1,
		      "4 threads x 500 open/dup/ioctl/close, no errors, no leaks");
	}

	close(probe);
	printf("shim: %d passed, %d failed\n", res->pass, res->fail);
	return res->fail ? 1 : 0;
}
