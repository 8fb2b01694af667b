/* race_helpers.h - what the programs that race two threads share. Needs _GNU_SOURCE
 * defined before the first system header (for sched_setaffinity). */
#ifndef CONFORMANCE_RACE_HELPERS_H
#define CONFORMANCE_RACE_HELPERS_H

#include <sched.h>
#include <time.h>
#include <unistd.h>

/* The racing threads on different CPUs, so they overlap (when there are two). */
static inline void pin_to_cpu(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
	sched_setaffinity(0, sizeof(set), &set);
}

/* Monotonic seconds, for bounding a race by time. */
static inline double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

#endif
