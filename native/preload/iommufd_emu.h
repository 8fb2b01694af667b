/* iommufd_emu.h - C ABI between the LD_PRELOAD shim and the IommuFd.NET engine.
 *
 * The engine (a NativeAOT shared library) exports the functions below (and one more that
 * only its own copies call, in a forked child: src/IommuFd.Native/Fork). The shim dlopen()s
 * it on the first emulated open (/dev/iommu, a VFIO device, or IOMMUFD_EMU_FDS before main) and
 * calls iommufd_emu_init() once before anything else.
 */
#ifndef IOMMUFD_EMU_H
#define IOMMUFD_EMU_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The shim and the engine are built and shipped together: nothing here is versioned. Each kind
 * of emulated fd is one group of exports below (an iommufd context; an object fd), and the
 * host callbacks the engine needs for it. */

/* Host callbacks provided by the shim. */
struct iommufd_emu_host {
	/* Fault-safe copies to/from the emulated process's memory. Each returns 0 on success or
	 * -EFAULT (and never crashes) if any byte of the user range is unmapped or lacks the
	 * needed access. len == 0 always succeeds; an address range that wraps is -EFAULT. */
	int (*copy_from_user)(void *dst, uint64_t user_src, uint64_t len);
	int (*copy_to_user)(uint64_t user_dst, const void *src, uint64_t len);

	/* Object fds. An object fd is a real kernel fd (an eventfd) naming an engine object by a
	 * cookie; dup/dup2/fcntl(F_DUPFD) share it, and when the last fd referring to it is
	 * closed the shim calls iommufd_emu_release_object(). read/write on it go to
	 * iommufd_emu_object_read/write(); ioctl is ENOTTY, mmap ENODEV. poll, select and epoll
	 * see the eventfd itself: always writable, and readable only while the engine says so
	 * (set_object_readable below).
	 *
	 * open_object_fd: may only be called from inside iommufd_emu_ioctl(ctx, ...) on the
	 * calling thread; the object fd holds a reference on that context's file, so
	 * iommufd_emu_close(ctx) is not called until the object fd is released too. Returns the
	 * new fd (O_CLOEXEC) or -errno (-EBADF when ctx is not the context being served or is
	 * closing). Never calls back into the engine. */
	int (*open_object_fd)(int64_t ctx, uint64_t cookie);
	/* The cookie of the object fd `fd` (>= 0), or -1 when fd is no object fd of this
	 * process. Lock-free, never calls back into the engine. */
	int64_t (*lookup_object_fd)(int fd);
	/* close(fd) as the program's own close() would (the engine's libc calls may not be
	 * interposed): 0 or -errno. May call iommufd_emu_release_object() on this thread before
	 * returning. */
	int (*close_fd)(int fd);
	/* The object `cookie` has (1) or no longer has (0) something to read: the shim makes its
	 * eventfd poll readable accordingly. Called in order of the changes, from any thread,
	 * possibly inside iommufd_emu_ioctl or an object read; never calls back into the engine.
	 * An unknown cookie is ignored. */
	void (*set_object_readable)(uint64_t cookie, int readable);
	/* The context handle of `fd` when it is an emulated /dev/iommu fd of this process, else -1
	 * (VFIO_DEVICE_BIND_IOMMUFD names its iommufd by fd). Lock-free, never calls back into the
	 * engine. */
	int64_t (*lookup_iommufd_fd)(int fd);
};

/* 0 or -errno. Called once, right after dlopen. `host` stays valid forever. The shim registers
 * its pthread_atfork handlers before this call, so the engine's (registered here) drain calls
 * into the engine before the shim's take its locks (engine.c, docs/native-boundary.md). */
int iommufd_emu_init(const struct iommufd_emu_host *host);

/* ---- an iommufd context: open("/dev/iommu") (shim: kind_iommufd.c) ---- */

/* New iommufd context (one per open("/dev/iommu")): handle > 0, or -errno. */
int64_t iommufd_emu_open(void);

/* ioctl on a context: >= 0 ok, or -errno. `cmd` is the 32-bit ioctl number
 * (the kernel truncates to unsigned int; so does the shim), `arg` the raw
 * user pointer. Must tolerate a concurrent or prior iommufd_emu_close() of
 * the same handle (racy user code) by returning -EBADF. */
int iommufd_emu_ioctl(int64_t ctx, uint64_t cmd, uint64_t arg);

/* Last fd referring to the context was closed: free it. */
void iommufd_emu_close(int64_t ctx);

/* ---- object fds (shim: kind_object.c) ---- */

/* The last fd referring to the object `cookie` was closed. Called outside the shim's locks,
 * possibly on a thread inside iommufd_emu_ioctl() (close_fd). In a forked child, cookies of
 * inherited object fds are the parent's: ignored. */
void iommufd_emu_release_object(uint64_t cookie);

/* read()/write() on an object fd, e.g. a fault queue's records and page responses. Return the
 * bytes transferred (>= 0) or -errno (EINVAL: the object has no read/write; EIO: an object fd
 * inherited across fork()). `buf` is the program's pointer, copied with the host copy
 * callbacks, so a bad pointer is -EFAULT. Called outside the shim's locks, from any thread.
 * They never touch the eventfd's counter, so poll() reports POLLIN exactly as the engine last
 * told set_object_readable. */
int64_t iommufd_emu_object_read(uint64_t cookie, uint64_t buf, uint64_t len);
int64_t iommufd_emu_object_write(uint64_t cookie, uint64_t buf, uint64_t len);

/* ---- process accounting: /proc/<pid>/status (shim: proc_status.c) ---- */

/* A process's pins as the emulated kernel counts them, in CPU pages: every pinned page (the
 * kernel's pinned_vm, "VmPin") and the pages charged to the process's locked memory in
 * process accounting mode (part of locked_vm, "VmLck"). */
struct iommufd_emu_pins {
	uint64_t pinned_pages;
	uint64_t locked_pages;
};

/* 0 with *pins filled, or -ENOENT when the emulated kernel never charged or served process
 * `pid` (in a forked child: neither the parent's engine, through the fork link, nor the
 * child's own). Any thread, outside the shim's locks. */
int iommufd_emu_process_pins(int32_t pid, struct iommufd_emu_pins *pins);

/* ---- mappings of a context's fd (shim: kind_iommufd.c, map_table.c) ---- */

/* mmap(ctx's fd, length, offset): the engine copies what it offers at exactly (offset, length)
 * (a vIOMMU's region) to `dst`, the shim's fresh anonymous mapping of `length` bytes, and keeps
 * its owner in use until iommufd_emu_munmap(). Returns a mapping cookie > 0, or -errno (ENXIO:
 * nothing at that offset and length; EBADF: ctx unknown or closing). The copy is a snapshot:
 * later changes on either side are not seen by the other. */
int64_t iommufd_emu_mmap(int64_t ctx, uint64_t offset, uint64_t length, uint64_t dst);

/* The mapping `cookie` was unmapped as a whole. In a forked child, inherited cookies are ignored. */
void iommufd_emu_munmap(uint64_t cookie);

/* ---- VFIO device fds: open("/dev/vfio/devices/vfioN") (shim: kind_vfio_device.c) ----
 * Optional as a group: the shim looks all seven up and, if any is missing, offers no devices. */

/* How many device cdevs the running machine offers: vfio0 .. vfio<count-1>; 0 without
 * --machine (IOMMUFD_EMU_MACHINE). The answer never changes within a process. */
int iommufd_emu_device_count(void);

/* A new open of device `index` (the N of vfioN): a handle > 0, or -errno (ENOENT: no such
 * device). Each open is its own VFIO device file, as in the kernel. */
int64_t iommufd_emu_device_open(uint32_t index);

/* ioctl on a device fd: >= 0 ok, or -errno; the same contract as iommufd_emu_ioctl(). */
int iommufd_emu_device_ioctl(int64_t dev, uint64_t cmd, uint64_t arg);

/* pread()/pwrite() on a device fd at `offset` (vfio-pci's region index lives in its high bits;
 * the engine decodes it). `buf` is the program's pointer, copied with the host callbacks.
 * Returns the bytes transferred or -errno. pread/pwrite/preadv/pwritev pass their offset;
 * read()/write() pass the file position the shim keeps for the device file, which advances by
 * the bytes moved. */
int64_t iommufd_emu_device_read(int64_t dev, uint64_t buf, uint64_t len, uint64_t offset);
int64_t iommufd_emu_device_write(int64_t dev, uint64_t buf, uint64_t len, uint64_t offset);

/* mmap(dev fd, length, ..., offset): 0 when the engine allows mapping that part of a region
 * (the shim then makes the mapping), or -errno (EINVAL: the region's info has no MMAP flag). */
int iommufd_emu_device_mmap(int64_t dev, uint64_t offset, uint64_t length);

/* The last fd referring to the device file was closed: unbind it (its iommufd device object
 * goes, its attachments are released) and free it. In a forked child, inherited handles are the
 * parent's: ignored. */
void iommufd_emu_device_close(int64_t dev);

/* ---- fault injection: the kernel's fail-nth file (shim: fail_nth.c; docs/fault-injection.md) ---- */

/* Thread `tid` (a thread of this process, by kernel thread ID) fails the Nth engine fault site it
 * reaches from now on: allocations ENOMEM, user copies EFAULT, a domain's map its driver's errno.
 * n == 0 turns it off. The engine runs calls on the calling thread, so this is the thread's own
 * countdown; a value for another thread is taken up when that thread next enters the engine.
 * Returns 0 or -errno. */
int iommufd_emu_fail_nth_set(int32_t tid, uint32_t n);

/* What is left of thread `tid`'s countdown: 0 once the fault was injected (or when off), as the
 * kernel's file reads back. >= 0, or -errno. */
int64_t iommufd_emu_fail_nth_get(int32_t tid);

#ifdef __cplusplus
}
#endif

#endif /* IOMMUFD_EMU_H */
