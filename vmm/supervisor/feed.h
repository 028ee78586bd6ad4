/* Feeding a file to QEMU through a pipe: vmm restore's saved guest is read by `-incoming fd:N`
 * from a pipe the supervisor fills from the save file (QEMU 9.1 deprecates fd: on a regular
 * file; a pipe works on every version). */
#ifndef VMM_FEED_H
#define VMM_FEED_H

#include <event2/event.h>

#include "vmm/base/error.h"

struct feed;

/* Starts copying what is left of file (owned, from its offset) into a new pipe as the loop of
 * base runs; returns the pipe's read end (the caller's) and *out, or -1 with err (file closed). */
int feed_start(struct event_base *base, int file, struct feed **out, struct verr *err);

/* Stops feeding and frees it. Safe with NULL. */
void feed_free(struct feed *f);

#endif
