/* real_libc.c - lazy dlsym(RTLD_NEXT) look-up of the functions the shim wraps. */
#include "shim.h"
#include <dlfcn.h>

#define REAL_SLOT(f) void *_Atomic next_##f;
REAL_LIBC_FUNCTIONS(REAL_SLOT)
#undef REAL_SLOT

/* A race only looks the symbol up twice: both store the same pointer. */
void *real_sym(void *_Atomic *slot, const char *name)
{
	void *p = atomic_load_explicit(slot, memory_order_relaxed);
	if (unlikely(!p)) {
		p = dlsym(RTLD_NEXT, name);
		atomic_store_explicit(slot, p, memory_order_relaxed);
	}
	return p;
}
