/* libFuzzer target: arbitrary bytes (a guest's console output) through the terminal escape
 * filter, whole and split in two at the first byte's offset; no byte < 0x20 but newline and
 * tab, and no ESC, may come out, and never more than went in. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmm/base/term-strip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: filter, check what came out. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct term_strip s = { 0 };
	char *out = malloc(size + 1);
	size_t split = size ? data[0] % (size + 1) : 0, kept;

	kept = term_strip(&s, (const char *)data, split, out);
	kept += term_strip(&s, (const char *)data + split, size - split, out + kept);
	if (kept > size)
		abort();
	for (size_t i = 0; i < kept; i++)
		if ((unsigned char)out[i] < 0x20 && out[i] != '\n' && out[i] != '\t')
			abort();
	free(out);
	return 0;
}
