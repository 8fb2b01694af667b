/* kind_object.c - an object fd the engine opened (open_object_fd): a fault queue, the
 * self-test's access fd. read/write go to the engine and never to the eventfd, whose counter
 * is the object's poll readiness (host.c: set_object_readable); no ioctls. A forked child
 * calls the engine too: it tells inherited objects apart itself. */
#include "shim.h"

static int object_ioctl(struct emu_file *f, uint32_t cmd, uint64_t arg)
{
	(void)f, (void)cmd, (void)arg;
	return -ENOTTY;
}

static int64_t object_read(struct emu_file *f, uint64_t buf, uint64_t len)
{
	return eng.object_read(id_of(f), buf, len);
}

static int64_t object_write(struct emu_file *f, uint64_t buf, uint64_t len)
{
	return eng.object_write(id_of(f), buf, len);
}

static void object_release(struct emu_file *f)
{
	eng.release_object(id_of(f));
}

const struct emu_kind object_kind = {
	.name = "object",
	.ioctl = object_ioctl,
	.read = object_read,
	.write = object_write,
	.release = object_release,
};
