/* QEMU's own stdout/stderr as the supervisor reads it: kept until QEMU is ready (a start that
 * fails has it in its verdict, one that works shows it then), relayed to the supervisor's
 * stderr (vmm.log) after that. Each whole line, without its timestamp, goes to the VM's state
 * (the last ones for the verdict and the record of an ended VM). */
#ifndef VMM_QEMU_OUTPUT_H
#define VMM_QEMU_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct vm_state;

struct qemu_output {
	struct vm_state *vm;
	struct bufferevent *bev;   /* NULL when QEMU's output is not ours (a reattached QEMU) */
	struct evbuffer *early;    /* what it wrote before it was ready */
	bool relay;                /* QEMU is ready: what it writes goes straight to stderr */
	char last[512];            /* its last line of output (or the unfinished one) */
	size_t partial;            /* bytes of an unfinished line in last */
};

/* Starts reading QEMU's output on fd (it becomes the reader's) for the VM vm. */
void qemu_output_attach(struct qemu_output *o, struct event_base *base, struct vm_state *vm, int fd);

/* QEMU is ready: what it wrote until now is shown, and what it writes from now on. */
void qemu_output_ready(struct qemu_output *o);

/* QEMU ended: reads whatever it wrote last, its unfinished line made a whole one. */
void qemu_output_drain(struct qemu_output *o);

/* Lets go of QEMU's output and forgets its last line. */
void qemu_output_detach(struct qemu_output *o);

/* Drops the "2026-11-23T09:44:40.881022Z " that -msg timestamp=on puts before QEMU's messages. */
const char *without_timestamp(const char *line);

#endif
