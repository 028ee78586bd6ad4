/* libFuzzer target: arbitrary bytes as vmm's disk state files, a VM's snapshot chain
 * (snapshots.json) and a backup directory's manifest (manifest.json, from anywhere), through
 * their checks. */
#include <stdint.h>
#include <string.h>

#include <json-c/json.h>

#include "vmm/launch/chain.h"
#include "vmm/launch/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: JSON, then each check; errors are expected, crashes and leaks are not. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_tokener *tok = json_tokener_new();
	struct json_object *o = json_tokener_parse_ex(tok, (const char *)data, (int)(size > INT32_MAX ? INT32_MAX : size));
	struct verr err = { 0 };

	json_tokener_free(tok);
	if (!o)
		return 0;
	chain_check("/fuzz/snapshots.json", o, &err);
	verr_clear(&err);
	manifest_check("/fuzz/manifest.json", o, &err);
	verr_clear(&err);
	json_object_put(o);
	return 0;
}
