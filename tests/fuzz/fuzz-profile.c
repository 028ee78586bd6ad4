/* libFuzzer target: arbitrary bytes as a profile file through the parser and the validator. */
#include <stdint.h>
#include <string.h>

#include "profiles/config.h"
#include "profiles/profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One input: parse, validate, free; errors are expected, crashes and leaks are not. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct verr err = { 0 };
	struct vm_config c;
	char *text = malloc(size + 1); /* profile_parse wants the NUL a file read adds */
	struct json_object *json;

	memcpy(text, data, size);
	text[size] = '\0';
	json = profile_parse(text, size, "/fuzz/in.json", &err);
	free(text);

	if (json) {
		if (config_from_json(json, "/fuzz/in.json", NULL, &c, &err) == 0)
			config_free(&c);
		json_object_put(json);
	}
	verr_clear(&err);
	return 0;
}
