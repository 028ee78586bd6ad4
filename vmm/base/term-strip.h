/* Terminal escapes taken out of text a guest wrote (its console log), so that printing it
 * cannot move the cursor, retitle the window, or reprogram the terminal: CSI sequences
 * (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), DCS/SOS/PM/APC strings, the other ESC
 * sequences, and every control character but newline and tab. A stream filter: a sequence
 * may span the chunks it is given. */
#ifndef VMM_TERM_STRIP_H
#define VMM_TERM_STRIP_H

#include <stddef.h>

/* Where the filter is inside a sequence between two chunks. */
struct term_strip {
	int state;
};

/* Copies what is text of in (n bytes) to out (room for n bytes); returns how many it wrote. */
size_t term_strip(struct term_strip *s, const char *in, size_t n, char *out);

#endif
