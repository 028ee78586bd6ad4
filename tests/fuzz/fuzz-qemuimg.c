/* libFuzzer target: arbitrary bytes as qemu-img's `info --output=json --backing-chain` output
 * (what an image's header, which a guest may have written, shows through qemu-img). */
#include <stdint.h>

#include "vmm/launch/qemuimg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: parse, free; errors are expected, crashes and leaks are not. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verr err = { 0 };
	struct image_chain c;

	if (qemuimg_parse_chain((const char *)data, size, &c, &err) == 0)
		image_chain_free(&c);
	verr_clear(&err);
	return 0;
}
