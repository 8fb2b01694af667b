/* copy_pvm.c - fault-safe user copies done by the kernel (process_vm_readv/writev on
 * ourselves): one syscall per copy, no signal handler (IOMMUFD_EMU_COPY=pvm). */
#include "shim.h"
#include <limits.h>
#include <sys/uio.h>

static int pvm_copy(void *local, uint64_t user, uint64_t len, int to_user)
{
	if (len == 0)
		return 0;
	if (user + len < user || len > SSIZE_MAX)
		return -EFAULT;
	struct iovec l = { local, len }, r = { (void *)(uintptr_t)user, len };
	ssize_t n = to_user ? process_vm_writev(self_pid, &l, 1, &r, 1, 0)
			  : process_vm_readv(self_pid, &l, 1, &r, 1, 0);
	return n == (ssize_t)len ? 0 : -EFAULT;
}

int pvm_from_user(void *dst, uint64_t src, uint64_t len)
{
	return pvm_copy(dst, src, len, 0);
}

int pvm_to_user(uint64_t dst, const void *src, uint64_t len)
{
	return pvm_copy((void *)src, dst, len, 1);
}
