#include "vmm/base/term-strip.h"

enum {
	TEXT,
	ESC,       /* after ESC */
	ESC_INTER, /* ESC, intermediates (0x20-0x2f): up to a final byte */
	CSI,       /* ESC [: parameters and intermediates up to a final byte (0x40-0x7e) */
	STRING,    /* OSC, DCS, SOS, PM, APC: up to ST (ESC \), or BEL for OSC */
	STRING_ESC /* ESC inside a string: a backslash ends it */
};

size_t term_strip(struct term_strip *s, const char *in, size_t n, char *out)
{
	size_t kept = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)in[i];

		switch (s->state) {
		case TEXT:
			if (c == 0x1b)
				s->state = ESC;
			else if (c >= 0x20 ? c != 0x7f : c == '\n' || c == '\t')
				out[kept++] = (char)c;
			break;
		case ESC:
			if (c == '[')
				s->state = CSI;
			else if (c == ']' || c == 'P' || c == 'X' || c == '^' || c == '_')
				s->state = STRING;
			else if (c >= 0x20 && c <= 0x2f)
				s->state = ESC_INTER;
			else
				s->state = c == 0x1b ? ESC : TEXT;
			break;
		case ESC_INTER:
			if (c < 0x20 || c > 0x2f)
				s->state = c == 0x1b ? ESC : TEXT;
			break;
		case CSI:
			if (c == 0x1b)
				s->state = ESC;
			else if (c >= 0x40 && c <= 0x7e)
				s->state = TEXT;
			else if (c == 0x18 || c == 0x1a) /* CAN, SUB: cancel */
				s->state = TEXT;
			break;
		case STRING:
			if (c == 0x07)
				s->state = TEXT;
			else if (c == 0x1b)
				s->state = STRING_ESC;
			else if (c == 0x18 || c == 0x1a)
				s->state = TEXT;
			break;
		case STRING_ESC:
			/* ST ends the string; any other ESC sequence ends it too, and begins. */
			s->state = ESC;
			if (c == '\\')
				s->state = TEXT;
			else
				i--;
			break;
		}
	}
	return kept;
}
