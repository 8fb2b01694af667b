/* dma_test_device.h - the built-in DMA test device as a program sees it (issue 14's table).
 *
 * The one place the tests take the device's identity from: the C programs include it and
 * scripts/test-qemu.sh reads the two ID lines below.
 *
 * The IDs are the device model's (docs/dma-test-device.md on the pci-device branch); keep the
 * "#define NAME 0xHHHH" form: test-qemu.sh parses it.
 */
#ifndef CONFORMANCE_DMA_TEST_DEVICE_H
#define CONFORMANCE_DMA_TEST_DEVICE_H

#define DMA_TEST_VENDOR_ID 0x1234
#define DMA_TEST_DEVICE_ID 0x11da

#define DMA_TEST_CLASS 0x0880      /* other system peripheral */
#define DMA_TEST_BAR0_SIZE 0x1000  /* a 4 KiB memory BAR */

/* BAR0: 64-bit little-endian registers, 8-byte accesses. */
enum {
	DMA_REG_ID = 0x00,           /* RO "IOMMUDMA" */
	DMA_REG_SRC = 0x08,          /* RW source IOVA */
	DMA_REG_DST = 0x10,          /* RW destination IOVA */
	DMA_REG_LEN = 0x18,          /* RW bytes */
	DMA_REG_PASID = 0x20,        /* RW bit 31: with PASID bits 19:0 */
	DMA_REG_DOORBELL = 0x28,     /* WO 1 copy, 2 fill */
	DMA_REG_PATTERN = 0x30,      /* RW 8-byte fill pattern */
	DMA_REG_STATUS = 0x38,       /* RO 0 idle, 1 done, 2 fault */
	DMA_REG_FAULT_IOVA = 0x40,   /* RO first faulting IOVA */
	DMA_REG_FAULT_REASON = 0x48, /* RO see below */
	DMA_REG_COMPLETED = 0x50,    /* RO operations finished since reset */
};

enum { DMA_OP_COPY = 1, DMA_OP_FILL = 2 };
enum { DMA_STATUS_IDLE = 0, DMA_STATUS_DONE = 1, DMA_STATUS_FAULT = 2 };
enum {
	DMA_FAULT_NOT_MAPPED = 1,
	DMA_FAULT_PERMISSION = 2,
	DMA_FAULT_BUS_MASTER_OFF = 3,
	DMA_FAULT_BLOCKED = 4,
};

#define DMA_PASID_ENABLE (1u << 31)

#endif
