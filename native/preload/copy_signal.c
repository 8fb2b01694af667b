/* copy_signal.c - fault-safe user copies: a plain memcpy guarded by a SIGSEGV/SIGBUS handler
 * that turns a fault inside the guarded range into -EFAULT (siglongjmp). The default mode:
 * no syscall per copy. Faults that are not ours go to the handler installed before us. */
#include "shim.h"
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <ucontext.h>

struct copy_guard {
	sigjmp_buf env;
	uintptr_t lo, hi;          /* user range being accessed */
	volatile int fp_saved;
	volatile uint32_t mxcsr;
	volatile uint16_t fpcw;
};
static __thread struct copy_guard *volatile cur_guard
	__attribute__((tls_model("initial-exec")));
static struct sigaction old_segv, old_bus;

static void fault_handler(int sig, siginfo_t *si, void *ucv)
{
	struct copy_guard *g = cur_guard;
	uintptr_t a = (uintptr_t)si->si_addr;
	/* Only kernel-raised faults on the guarded user range; SI_KERNEL covers
	 * x86 non-canonical addresses, which fault with si_addr == 0. */
	if (g && si->si_code > 0 && ((a >= g->lo && a < g->hi) || si->si_code == SI_KERNEL)) {
#if defined(__x86_64__)
		/* The kernel gives handlers a fresh FPU state and we leave via
		 * siglongjmp, not sigreturn: carry the thread's control words. */
		ucontext_t *uc = ucv;
		if (uc->uc_mcontext.fpregs) {
			g->mxcsr = uc->uc_mcontext.fpregs->mxcsr;
			g->fpcw = uc->uc_mcontext.fpregs->cwd;
			g->fp_saved = 1;
		}
#endif
		siglongjmp(g->env, 1);
	}
	/* Not ours: chain to whatever was installed before (e.g. .NET's). */
	struct sigaction *o = sig == SIGSEGV ? &old_segv : &old_bus;
	if (o->sa_flags & SA_SIGINFO) {
		o->sa_sigaction(sig, si, ucv);
	} else if (o->sa_handler == SIG_IGN && si->si_code <= 0) {
		/* user-sent and ignored */
	} else if (o->sa_handler == SIG_DFL || o->sa_handler == SIG_IGN) {
		/* Restore the default action; a real fault re-executes the
		 * faulting instruction on return and dumps core at the right
		 * place, a user-sent signal is re-raised. */
		signal(sig, SIG_DFL);
		if (si->si_code <= 0)
			raise(sig);
	} else {
		o->sa_handler(sig);
	}
}

/* Called after the engine's init: the runtime's handlers are the ones we chain to. */
void install_fault_handler(void)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fault_handler;
	sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, NULL, &old_segv);
	sigaction(SIGBUS, NULL, &old_bus);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static int guarded_copy(void *dst, const void *src, uint64_t len, uint64_t user)
{
	struct copy_guard g;
	if (len == 0)
		return 0;
	if (user + len < user)
		return -EFAULT;
	g.lo = user;
	g.hi = user + len;
	g.fp_saved = 0;
	if (sigsetjmp(g.env, 0)) { /* no mask save: SA_NODEFER, empty sa_mask */
		cur_guard = NULL;
#if defined(__x86_64__)
		if (g.fp_saved) {
			uint32_t m = g.mxcsr;
			uint16_t c = g.fpcw;
			__asm__ volatile("ldmxcsr %0\n\tfldcw %1" : : "m"(m), "m"(c));
		}
#endif
		return -EFAULT;
	}
	cur_guard = &g;
	__asm__ volatile("" ::: "memory");
	memcpy(dst, src, len);
	__asm__ volatile("" ::: "memory");
	cur_guard = NULL;
	return 0;
}

int sig_from_user(void *dst, uint64_t src, uint64_t len)
{
	return guarded_copy(dst, (const void *)(uintptr_t)src, len, src);
}

int sig_to_user(uint64_t dst, const void *src, uint64_t len)
{
	return guarded_copy((void *)(uintptr_t)dst, src, len, dst);
}
