/* libFuzzer target: arbitrary bytes as the start of a file given to vmm restore (the header of
 * a saved VM, savefile.h): parsed, or refused with an error, never more. */
#include <stdint.h>
#include <stdlib.h>

#include "vmm/supervisor/savefile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: the bytes of a save file. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verr err = { 0 };
	struct json_object *profile = NULL;
	char *vm = NULL, *path = NULL;
	size_t used;

	if (savefile_parse((const char *)data, size, "fuzz", &used, &vm, &path, &profile, &err) == 0) {
		if (used > size)
			abort();
		json_object_put(profile);
		free(vm);
		free(path);
	}
	verr_clear(&err);
	return 0;
}
