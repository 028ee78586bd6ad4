/* Unit tests of the terminal escape filter (vmm/base/term-strip.h): each kind of sequence
 * goes, text and newlines and tabs stay, and a sequence split over chunks goes too. */
#include <string.h>

#include "tap.h"
#include "vmm/base/term-strip.h"

/* The text of in filtered in chunks of `chunk` bytes. */
static const char *strip(const char *in, size_t chunk)
{
	static char out[1024];
	struct term_strip s = { 0 };
	size_t len = strlen(in), kept = 0;

	for (size_t at = 0; at < len; at += chunk)
		kept += term_strip(&s, in + at, len - at < chunk ? len - at : chunk, out + kept);
	out[kept] = '\0';
	return out;
}

int main(void)
{
	static const struct {
		const char *in, *out, *what;
	} cases[] = {
		{ "plain text\n\tindented\n", "plain text\n\tindented\n", "text, newline and tab stay" },
		{ "\x1b[31mred\x1b[0m\r\n", "red\n", "CSI colours and CR go" },
		{ "\x1b[2J\x1b[1;1Hhome", "home", "clear screen and cursor moves go" },
		{ "a\x1b]0;title\x07" "b", "ab", "OSC ended by BEL" },
		{ "a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b", "alinkb", "OSC 8 hyperlinks ended by ST" },
		{ "a\x1bP1$r\x1b\\b", "ab", "DCS string" },
		{ "a\x1b(Bb\x1b" "cc\x1b=d", "abcd", "charset, reset and keypad ESC sequences" },
		{ "a\x07\x08\x7f\x01z", "az", "BEL, BS, DEL and other controls go" },
		{ "a\x1b]0;x\x1b[31mb", "ab", "an ESC sequence inside OSC ends it and goes too" },
		{ "h\xc3\xa9llo \xe2\x82\xac", "h\xc3\xa9llo \xe2\x82\xac", "UTF-8 stays whole" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		for (size_t chunk = 1; chunk <= 64; chunk *= 4) {
			const char *got = strip(cases[i].in, chunk);
			ok(!strcmp(got, cases[i].out), "%s (chunks of %zu)", cases[i].what, chunk);
		}
	return tap_done();
}
