/* Unit tests of what vmm makes of a guest agent's answers (vmm/cli/guest.h): the guest is not
 * trusted, so an exit code or signal that is no integer is refused, and one an exit status
 * cannot carry is a failure, never 0 (exit(256) is exit(0)). */
#include <stdio.h>

#include "tap.h"
#include "vmm/cli/guest.h"

/* guest_exec_code of each guest-exec-status answer. */
static void test_exec_code(void)
{
	static const struct {
		const char *json;
		int code;
	} cases[] = {
		{ "{\"exited\": true, \"exitcode\": 0}", 0 },
		{ "{\"exited\": true, \"exitcode\": 3}", 3 },
		{ "{\"exited\": true, \"exitcode\": 255}", 255 },
		{ "{\"exited\": true, \"exitcode\": 256}", 255 },
		{ "{\"exited\": true, \"exitcode\": 3221225477}", 255 },
		{ "{\"exited\": true, \"exitcode\": -1}", 255 },
		{ "{\"exited\": true, \"signal\": 9}", 137 },
		{ "{\"exited\": true}", 0 },
		{ "{\"exited\": true, \"exitcode\": \"0\"}", -1 },
		{ "{\"exited\": true, \"exitcode\": 1.5}", -1 },
		{ "{\"exited\": true, \"exitcode\": false}", -1 },
		{ "{\"exited\": true, \"signal\": \"9\"}", -1 },
		{ "{\"exited\": true, \"signal\": 0}", -1 },
		{ "{\"exited\": true, \"signal\": 2147483647}", -1 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct json_object *st = json_tokener_parse(cases[i].json);
		int code = guest_exec_code(st);
		ok(code == cases[i].code, "guest_exec_code(%s) is %d (got %d)", cases[i].json, cases[i].code, code);
		json_object_put(st);
	}
}

int main(void)
{
	test_exec_code();
	return tap_done();
}
