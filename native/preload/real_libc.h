/* real_libc.h - the libc functions the shim wraps, found with dlsym(RTLD_NEXT) on first use
 * (no constructor: a program that never calls them pays nothing). */
#ifndef REAL_LIBC_H
#define REAL_LIBC_H
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdatomic.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Fortify entry points (not declared unless _FORTIFY_SOURCE is on). */
int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off64_t off, size_t buflen);

#define REAL_LIBC_FUNCTIONS(X)                                                             \
	X(open) X(open64) X(openat) X(openat64) X(__open_2) X(__open64_2) X(__openat_2)    \
	X(__openat64_2) X(close) X(close_range) X(closefrom) X(dup) X(dup2) X(dup3)        \
	X(fcntl) X(fcntl64) X(ioctl) X(read) X(__read_chk) X(write) X(mmap) X(mmap64)      \
	X(fopen) X(fopen64) X(munmap) X(pread) X(pread64) X(__pread_chk) X(__pread64_chk)  \
	X(pwrite) X(pwrite64) X(readv) X(writev) X(preadv) X(preadv64) X(pwritev)          \
	X(pwritev64) X(preadv2) X(preadv64v2) X(pwritev2) X(pwritev64v2) X(lseek) X(lseek64)

#define REAL_SLOT(f) extern void *_Atomic next_##f;
REAL_LIBC_FUNCTIONS(REAL_SLOT)
#undef REAL_SLOT

void *real_sym(void *_Atomic *slot, const char *name);

/* The next definition of libc function f after ours, typed as f. */
#define REAL(f) ((__typeof__(&f))real_sym(&next_##f, #f))

#endif
