/* shim_test.h - what the shim self-test's files (shim_test*.c) share. */
#ifndef SHIM_TEST_H
#define SHIM_TEST_H
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "../iommufd_emu.h"
#include "stub_engine.h"
#include <sched.h>
#include <stdatomic.h>

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);

/* Shared with forked children so their checks count too. */
struct results { int pass, fail; };
extern struct results *res;

#define CHECK(cond, ...) do {                                       \
	int ok_ = !!(cond);                                          \
	__atomic_fetch_add(ok_ ? &res->pass : &res->fail, 1, __ATOMIC_SEQ_CST); \
	printf("%s: ", ok_ ? "PASS" : "FAIL");                       \
	printf(__VA_ARGS__);                                         \
	printf("\n");                                                \
	fflush(stdout);                                              \
} while (0)

#define ERRNO_IS(call, e) ((call) == -1 && errno == (e))

extern const char *engine;
extern long page;
extern int *volatile bad_ptr;

int destroy(int fd, void *arg);
uint32_t live_via(int fd);
int in_child(void (*fn)(void));
void object_fd_checks(int probe);  /* shim_test_objects.c */
void fork_order_checks(int probe); /* shim_test_fork.c */
void status_checks_unloaded(void); /* shim_test_status.c */
void status_checks(void);
void device_checks_unloaded(void); /* shim_test_devices.c */
void device_checks(int probe);
void preopen_checks(void);         /* shim_test_preopen.c */
int preopened_main(void);

#endif
