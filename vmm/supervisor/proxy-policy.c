/* What a protected VM (lifecycle.protected) refuses through the proxy: the commands its
 * policy lists. */
#include <string.h>

#include "vmm/supervisor/proxy-int.h"

const char *proxy_refusal(const struct proxy_policy *policy, const char *name, struct json_object *cmd)
{
	(void)cmd;
	for (const char *const *r = policy ? policy->refused : NULL; r && *r; r++)
		if (!strcmp(*r, name))
			return policy->why;
	return NULL;
}
