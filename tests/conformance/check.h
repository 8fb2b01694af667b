/* check.h - the conformance programs' tiny test helper.
 *
 * CHECK(cond, ...) and CHECK_ERR(call, errno) print one "ok"/"FAIL" line each;
 * check_done() prints "<prog>: N passed, M failed" and gives the exit code.
 */
#ifndef CONFORMANCE_CHECK_H
#define CONFORMANCE_CHECK_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int check_passed, check_failed;

static inline const char *check_errname(int e)
{
	const char *n = e ? strerrorname_np(e) : "0";
	return n ? n : "E?";
}

static inline int check_report(int ok, const char *file, int line, const char *what)
{
	if (ok)
		check_passed++;
	else
		check_failed++;
	printf("%s %s", ok ? "ok  " : "FAIL", what);
	if (!ok)
		printf("  (%s:%d)", file, line);
	printf("\n");
	fflush(stdout);
	return ok;
}

/* A condition, described by a printf-style message. */
#define CHECK(cond, ...) do {                                                  \
		char check_msg_[256];                                          \
		snprintf(check_msg_, sizeof(check_msg_), __VA_ARGS__);         \
		check_report(!!(cond), __FILE__, __LINE__, check_msg_);        \
	} while (0)

/* A call that returns 0 on success or -1 with errno: compare to want (0 = success). */
#define CHECK_ERR(call, want) do {                                             \
		errno = 0;                                                     \
		int check_rc_ = (call);                                        \
		int check_got_ = check_rc_ == 0 ? 0 : errno;                   \
		char check_msg_[256];                                          \
		snprintf(check_msg_, sizeof(check_msg_), "%s -> %s", #call,    \
			 check_errname(check_got_));      \
		if (check_got_ != (want))                                      \
			snprintf(check_msg_ + strlen(check_msg_),              \
				 sizeof(check_msg_) - strlen(check_msg_),      \
				 " (want %s)", check_errname(want)); \
		check_report(check_got_ == (want), __FILE__, __LINE__, check_msg_); \
	} while (0)

static inline int check_done(const char *prog)
{
	printf("%s: %d passed, %d failed\n", prog, check_passed, check_failed);
	return check_failed ? 1 : 0;
}

#endif
