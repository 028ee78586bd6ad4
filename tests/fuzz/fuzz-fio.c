/* libFuzzer target: fio's JSON output, which vmm bench reads from the guest (untrusted). */
#include <stdint.h>
#include <stdlib.h>

#include "vmm/cli/bench-fio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verr err = { 0 };
	struct fio_metrics m;
	char *version = NULL;

	if (fio_parse_result((const char *)data, size, &m, &version, &err) == 0)
		free(version);
	verr_clear(&err);
	return 0;
}
