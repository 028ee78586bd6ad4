#include "vmm/launch/lint-macs.h"

#include <dirent.h>
#include <string.h>
#include <strings.h>

#include "profiles/jsonread.h"
#include "vmm/base/host.h"
#include "vmm/base/util.h"

/* The VM (and its NIC) in data directory data other than self whose identity has mac, in *vm
 * and *nic (malloc'd); false when none has. */
static bool find_mac(const char *data, const char *self, const char *mac, char **vm, char **nic)
{
	DIR *d = opendir(data);
	struct dirent *e;
	bool found = false;

	while (d && !found && (e = readdir(d))) {
		_cleanup_free_ char *file = NULL;
		struct json_object *id, *macs;
		if (e->d_name[0] == '.' || !strcmp(e->d_name, self))
			continue;
		file = xasprintf("%s/%s/identity.json", data, e->d_name);
		id = json_object_from_file(file);
		if (id && json_object_object_get_ex(id, "macs", &macs) && json_object_is_type(macs, json_type_object)) {
			json_object_object_foreach(macs, key, v) {
				if (!found && json_object_is_type(v, json_type_string) &&
				    !strcasecmp(json_object_get_string(v), mac)) {
					*vm = xstrdup(e->d_name);
					*nic = xstrdup(key);
					found = true;
				}
			}
		}
		json_object_put(id);
	}
	if (d)
		closedir(d);
	return found;
}

void lint_mac_collisions(const struct plan *p, struct json_object *findings)
{
	_cleanup_free_ char *data = data_dir();
	struct json_object *macs = NULL;

	json_object_object_get_ex(p->identity.json, "macs", &macs);
	for (size_t i = 0; i < p->config.n_nics; i++) {
		const struct nic_config *n = &p->config.nics[i];
		const char *mac = n->mac ? n->mac : json_object_get_string(json_object_object_get(macs, n->id));
		_cleanup_free_ char *vm = NULL, *nic = NULL, *path = xasprintf("nics[%zu].mac", i), *why = NULL;
		struct json_object *f;

		if (!mac || !find_mac(data, p->config.name, mac, &vm, &nic))
			continue;
		why = xasprintf("MAC %s is also NIC '%s' of VM '%s' (%s/%s/identity.json): on one network the two "
				"VMs take each other's traffic", mac, nic, vm, data, vm);
		f = json_object_new_object();
		json_object_object_add(f, "severity", json_object_new_string("error"));
		json_object_object_add(f, "file", json_object_new_string(origin_of(p->origins, path, p->profile_path)));
		json_object_object_add(f, "path", json_object_new_string(path));
		json_object_object_add(f, "why", json_object_new_string(why));
		json_object_object_add(f, "fix", json_object_new_string(n->mac ? "drop \"mac\" (vmm gives each VM its own) or choose another"
										   : "give one of them another MAC in its identity.json"));
		json_object_array_add(findings, f);
	}
}
