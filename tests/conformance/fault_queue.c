/* fault_queue.c - a fault queue's fd under the shim: a nested HWPT naming the
 * queue, a page request raised by the self-test's mock device (TRIGGER_IOPF),
 * read() of whole iommu_hwpt_pgfault records and write() of the answer, with
 * the kernel's size rules (ESPIPE) and lifetime rules (EBUSY while held). */
#define _GNU_SOURCE
#include <poll.h>
#include <sys/epoll.h>
#include <unistd.h>
#include "check.h"
#include "iommufd_helpers.h"
#include "selftest_uapi.h"

#define IOMMU_HWPT_ALLOC IOMMU_CMD(0x89)
#define IOMMU_FAULT_QUEUE_ALLOC IOMMU_CMD(0x8e)
#define HWPT_ALLOC_NEST_PARENT (1 << 0)
#define HWPT_FAULT_ID_VALID (1 << 2)
#define HWPT_DATA_SELFTEST 0xdead

struct iommu_hwpt_alloc {
	uint32_t size, flags, dev_id, pt_id, out_hwpt_id, __reserved;
	uint32_t data_type, data_len;
	u64a data_uptr;
	uint32_t fault_id, __reserved2;
};
_Static_assert(sizeof(struct iommu_hwpt_alloc) == 48, "iommu_hwpt_alloc");

struct iommu_fault_alloc { uint32_t size, flags, out_fault_id, out_fault_fd; };

struct iommu_hwpt_pgfault {
	uint32_t flags, dev_id, pasid, grpid, perm, __reserved;
	u64a addr;
	uint32_t length, cookie;
};
_Static_assert(sizeof(struct iommu_hwpt_pgfault) == 40, "iommu_hwpt_pgfault");

struct iommu_hwpt_page_response { uint32_t cookie, code; };


static int hwpt_alloc(int fd, uint32_t dev, uint32_t pt, uint32_t flags, void *data, uint32_t fault, uint32_t *out)
{
	struct iommu_hwpt_alloc a = {
		.size = sizeof(a), .flags = flags, .dev_id = dev, .pt_id = pt,
		.data_type = data ? HWPT_DATA_SELFTEST : 0, .data_len = data ? 8 : 0,
		.data_uptr = (uintptr_t)data, .fault_id = fault,
	};
	int rc = ioctl(fd, IOMMU_HWPT_ALLOC, &a);
	*out = rc ? 0 : a.out_hwpt_id;
	return rc;
}

static int trigger(int fd, uint32_t dev, uint64_t addr)
{
	struct iommu_test_cmd c = { .size = sizeof(c), .op = TEST_OP_TRIGGER_IOPF };
	c.trigger_iopf.dev_id = dev;
	c.trigger_iopf.pasid = 1;
	c.trigger_iopf.grpid = 2;
	c.trigger_iopf.perm = 3;
	c.trigger_iopf.addr = addr;
	return ioctl(fd, IOMMU_TEST_CMD, &c);
}

int main(void)
{
	int fd = open_iommufd();
	uint32_t ioas = ioas_alloc(fd);
	struct iommu_test_cmd md = { .size = sizeof(md), .op = TEST_OP_MOCK_DOMAIN, .id = ioas };
	CHECK_ERR(ioctl(fd, IOMMU_TEST_CMD, &md), 0);
	uint32_t stdev = md.mock_domain.out_stdev_id, idev = md.mock_domain.out_idev_id;

	struct iommu_fault_alloc fa = { .size = sizeof(fa) };
	CHECK_ERR(ioctl(fd, IOMMU_FAULT_QUEUE_ALLOC, &fa), 0);
	int qfd = (int)fa.out_fault_fd;
	CHECK(qfd > 2 && fa.out_fault_id != 0, "fault queue has an id and an fd");

	uint32_t parent, nested, data[2] = { 0xbadbeef, 0 };
	CHECK_ERR(hwpt_alloc(fd, idev, ioas, HWPT_ALLOC_NEST_PARENT, NULL, 0, &parent), 0);
	CHECK_ERR(hwpt_alloc(fd, idev, parent, HWPT_FAULT_ID_VALID, data, fa.out_fault_id, &nested), 0);
	struct iommu_test_cmd rep = { .size = sizeof(rep), .op = TEST_OP_MOCK_DOMAIN_REPLACE, .id = stdev };
	rep.mock_domain_replace.pt_id = nested;
	CHECK_ERR(ioctl(fd, IOMMU_TEST_CMD, &rep), 0);

	/* POLLOUT always; POLLIN only while records wait, as with the kernel's fault fd. */
	struct pollfd pfd = { .fd = qfd, .events = POLLIN | POLLOUT };
	CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLOUT, "empty queue polls writable only");
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = qfd }, got;
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, qfd, &ev) == 0, "epoll watches the fault fd");
	CHECK(epoll_wait(ep, &got, 1, 0) == 0, "nothing to read yet");

	CHECK_ERR(trigger(fd, idev, 0xdeadb000), 0);
	CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == (POLLIN | POLLOUT), "a waiting record polls readable");
	CHECK(epoll_wait(ep, &got, 1, 0) == 1 && got.data.fd == qfd, "epoll reports it too");
	struct iommu_hwpt_pgfault rec[2];
	CHECK_ERR(read(qfd, rec, sizeof(rec[0]) - 1) < 0 ? -1 : 0, ESPIPE);
	CHECK(read(qfd, rec, sizeof(rec)) == (ssize_t)sizeof(rec[0]), "read one whole record");
	CHECK(rec[0].dev_id == idev && rec[0].addr == 0xdeadb000 && rec[0].grpid == 2, "record names device, group and address");
	CHECK(rec[0].flags == 3 && rec[0].pasid == 1 && rec[0].perm == 3, "record flags, pasid and perm");
	CHECK(read(qfd, rec, sizeof(rec[0])) == 0, "nothing more to read");
	CHECK(poll(&pfd, 1, 0) == 1 && pfd.revents == POLLOUT, "read out: writable only again");
	close(ep);

	struct iommu_hwpt_page_response resp = { .cookie = rec[0].cookie + 1, .code = 0 };
	CHECK_ERR(write(qfd, &resp, sizeof(resp)) < 0 ? -1 : 0, EINVAL);
	resp.cookie = rec[0].cookie;
	CHECK_ERR(write(qfd, &resp, sizeof(resp) - 1) < 0 ? -1 : 0, ESPIPE);
	CHECK(write(qfd, &resp, sizeof(resp)) == (ssize_t)sizeof(resp), "answer accepted");
	CHECK_ERR(write(qfd, &resp, sizeof(resp)) < 0 ? -1 : 0, EINVAL);

	/* The HWPT and the fd both hold the queue. */
	CHECK_ERR(destroy(fd, fa.out_fault_id), EBUSY);
	rep.mock_domain_replace.pt_id = ioas;
	CHECK_ERR(ioctl(fd, IOMMU_TEST_CMD, &rep), 0);
	CHECK_ERR(destroy(fd, nested), 0);
	CHECK_ERR(destroy(fd, fa.out_fault_id), EBUSY);
	CHECK(close(qfd) == 0, "close the fault fd");
	CHECK_ERR(destroy(fd, fa.out_fault_id), 0);
	CHECK_ERR(destroy(fd, parent), 0);
	CHECK(close(fd) == 0, "close iommufd");
	return check_done("fault_queue");
}
