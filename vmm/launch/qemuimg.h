/* Images through QEMU's own tool: qemu-img create, convert and info, run with an argv list
 * (never a shell), and its `info --output=json --backing-chain` read strictly. vmm has no image
 * format code of its own: every byte of an image is written by qemu-img or QEMU.
 *
 * qemu-img is found as $VMM_QEMU_IMG, else `qemu-img` on $PATH. */
#ifndef VMM_QEMUIMG_H
#define VMM_QEMUIMG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmm/base/error.h"

/* One image of a backing chain, as qemu-img describes it. */
struct image_info {
	char *filename;
	char *format;          /* "qcow2", "raw", ... */
	uint64_t virtual_size; /* what the guest sees, bytes */
	uint64_t actual_size;  /* allocated on the host, bytes (0 when qemu-img did not say) */
	char *backing;         /* the full path of its backing file, or NULL */
	char *backing_format;  /* the format recorded for it, or NULL */
};

/* An image and the images below it, top first. */
struct image_chain {
	struct image_info *v;
	size_t n;
};

/* Parses qemu-img's `info --output=json --backing-chain` (len bytes of text): an array of
 * image objects, each with a string "filename" and "format" and an integer "virtual-size";
 * "actual-size", "full-backing-filename" (else "backing-filename") and
 * "backing-filename-format" when present must have their types; each image after the first
 * must be the backing file of the one before. Returns 0, or -1 with err naming what was wrong
 * (out then empty). */
int qemuimg_parse_chain(const char *text, size_t len, struct image_chain *out, struct verr *err);

/* The backing chain of file, from qemu-img (-U: also an image a running QEMU holds). Returns 0,
 * or -1 with err (qemu-img's own message for an unreadable image). */
int qemuimg_info(const char *file, struct image_chain *out, struct verr *err);

/* Creates a new image: file must not exist (it is never overwritten, also not by a race: it is
 * made with O_EXCL before qemu-img writes it). backing (may be NULL) with backing_format makes
 * a thin overlay of it; size 0 then takes the backing file's. A failure leaves no file. */
int qemuimg_create(const char *file, const char *format, uint64_t size, const char *backing,
		   const char *backing_format, struct verr *err);

/* Copies the image src (of format src_format, with everything below it in its chain) into a
 * new, standalone image dst of format dst_format: dst must not exist, and a failure leaves none. */
int qemuimg_convert(const char *src, const char *src_format, const char *dst, const char *dst_format,
		    struct verr *err);

/* Parses a size as a user writes it for an image: "20G", "512M", "1T", or a number of bytes.
 * Returns 0, or -1 with err quoting it. */
int image_size_parse(const char *s, uint64_t *bytes, struct verr *err);

void image_chain_free(struct image_chain *c);

#endif
