/* vmm identity NAME [--json]: the identity VM NAME was given on its first start (identity.h):
 * its machine type, UUID, MACs and PCI places, from VMM_DATA_DIR/NAME/identity.json. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/launch/identity.h"

/* Prints the identity as aligned lines: machine, uuid, a mac line per NIC, a pci line per device. */
static void print_text(const struct identity *id)
{
	const char *label = "mac";
	struct json_object *v;

	printf("file     %s\n", id->file);
	printf("machine  %s\n", identity_machine_type(id));
	json_object_object_get_ex(id->json, "uuid", &v);
	printf("uuid     %s\n", json_object_get_string(v));
	json_object_object_get_ex(id->json, "macs", &v);
	json_object_object_foreach(v, nic, mac) {
		printf("%-8s %-16s %s\n", label, nic, json_object_get_string(mac));
		label = "";
	}
	label = "pci";
	json_object_object_get_ex(id->json, "pci", &v);
	json_object_object_foreach(v, key, entry) {
		json_object_object_foreach(entry, kind, place) {
			printf("%-8s %-16s %s%s\n", label, key, json_object_get_string(place),
			       strcmp(kind, "root_port") ? "" : " (its root port)");
			label = "";
		}
	}
}

/* The verb's handler. */
static int cmd_identity(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0];
	_cleanup_free_ char *data = data_dir(), *dir = xasprintf("%s/%s", data, name);
	_cleanup_free_ char *file = xasprintf("%s/identity.json", dir);
	struct identity id;

	if (!vm_name_valid(name))
		return verr_set(err, 0, "'%s' is not a valid VM name", name);
	if (access(file, F_OK) < 0 && errno == ENOENT)
		return verr_set(err, 0, "VM '%s' has no identity yet: its first start creates it ('vmm cmdline' shows "
				"the one it would get)", name);
	if (identity_load(file, dir, &id, err) < 0) {
		identity_free(&id);
		return -1;
	}
	if (args->json)
		cmd_print_json(id.json, JSON_PRETTY);
	else
		print_text(&id);
	identity_free(&id);
	return 0;
}

const struct cmd_entry cmd_identity_entry = {
	.name = "identity",
	.usage = "NAME [--json]",
	.help = "show the identity a VM got on its first start (machine type, UUID, MACs, PCI places)",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_identity,
};
