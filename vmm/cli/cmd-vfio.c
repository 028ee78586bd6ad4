/* vmm vfio list|check|bind|unbind: host PCI devices for passthrough (passthrough/). */
#include <stdio.h>
#include <string.h>

#include "passthrough/names.h"
#include "passthrough/pci.h"
#include "passthrough/safety.h"
#include "passthrough/vfio.h"
#include "vmm/cli/cmd.h"
#include "vmm/base/util.h"

/* One device as JSON, with its name from pci.ids. */
static struct json_object *device_json(const struct pci_dev *d)
{
	struct json_object *o = json_object_new_object();
	char ids[16], name[256];

	pci_name(d->vendor, d->device, name, sizeof(name));
	snprintf(ids, sizeof(ids), "%04x:%04x", d->vendor, d->device);
	json_object_object_add(o, "bdf", json_object_new_string(d->bdf));
	json_object_object_add(o, "ids", json_object_new_string(ids));
	json_object_object_add(o, "name", json_object_new_string(name));
	json_object_object_add(o, "class", json_object_new_int((int)d->class));
	json_object_object_add(o, "driver", json_object_new_string(d->driver));
	json_object_object_add(o, "iommu_group", json_object_new_int(d->group));
	json_object_object_add(o, "bridge", json_object_new_boolean(d->bridge));
	json_object_object_add(o, "boot_vga", json_object_new_boolean(d->boot_vga));
	json_object_object_add(o, "reset_methods", json_object_new_string(d->reset));
	return o;
}

/* vmm vfio list: every device, grouped by IOMMU group. */
static int vfio_list(bool json, struct verr *err)
{
	struct json_object *all = json_object_new_array();
	struct pci_dev *devs;
	size_t n;
	int last = -2;

	if (pci_list(&devs, &n, err) < 0) {
		json_object_put(all);
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		json_object_array_add(all, device_json(&devs[i]));
	if (json)
		cmd_print_json(all, JSON_PRETTY);
	else if (n && devs[n - 1].group < 0)
		fprintf(stderr, "vmm: the IOMMU is off: no device has an IOMMU group (add intel_iommu=on or "
			"amd_iommu=on to the kernel command line, and enable VT-d/AMD-Vi in the firmware)\n");
	for (size_t i = 0; !json && i < n; i++) {
		struct json_object *o = json_object_array_get_idx(all, i);
		if (devs[i].group != last)
			printf(devs[i].group < 0 ? "no IOMMU group\n" : "IOMMU group %d\n", devs[i].group);
		last = devs[i].group;
		printf("  %s  %s  %-40.40s  [%06x]  %-14s%s%s  reset: %s\n", devs[i].bdf,
		       json_object_get_string(json_object_object_get(o, "ids")),
		       json_object_get_string(json_object_object_get(o, "name")), devs[i].class,
		       devs[i].driver[0] ? devs[i].driver : "-", devs[i].bridge ? "  bridge" : "",
		       devs[i].boot_vga ? "  boot-vga" : "", devs[i].reset[0] ? devs[i].reset : "none");
	}
	json_object_put(all);
	free(devs);
	return 0;
}

/* vmm vfio check: can these devices go to a VM? Exit 0 viable, 1 not. */
static int vfio_check_cmd(char **bdfs, int n, bool force, bool json, struct verr *err)
{
	struct json_object *report = vfio_check((const char *const *)bdfs, (size_t)n, force, err), *problems;
	bool viable;

	if (!report)
		return -1;
	viable = json_object_get_boolean(json_object_object_get(report, "viable"));
	problems = json_object_object_get(report, "problems");
	if (json)
		cmd_print_json(report, JSON_PRETTY);
	else {
		for (size_t i = 0; i < json_object_array_length(problems); i++) {
			struct json_object *p = json_object_array_get_idx(problems, i);
			printf("%s: %s: %s\n", json_object_get_string(json_object_object_get(p, "severity")),
			       json_object_get_string(json_object_object_get(p, "bdf")),
			       json_object_get_string(json_object_object_get(p, "why")));
		}
		printf("%s\n", viable ? "viable" : "not viable");
	}
	json_object_put(report);
	return viable ? 0 : 1;
}

/* The verb's handler: vmm vfio SUBVERB [--json] [--force] [--with-group] [BDF...]. */
static int cmd_vfio(const struct cmd_args *args, struct verr *err)
{
	bool force = args_has(args, "force"), all = args_has(args, "all");
	const char *sub = args->argv[0];
	char **bdfs = args->argv + 1;
	int n = args->argc - 1, ret;
	struct strv group = { 0 };

	/* --with-group: every endpoint of the devices' IOMMU groups, as the profile's with_group. */
	if (args_has(args, "with-group") && n > 0 && (!strcmp(sub, "bind") || !strcmp(sub, "check"))) {
		if (vfio_group_endpoints((const char *const *)bdfs, (size_t)n, &group, err) < 0) {
			pci_names_free();
			return -1;
		}
		bdfs = group.v;
		n = (int)group.n;
	}
	if (!strcmp(sub, "list") && n == 0)
		ret = vfio_list(args->json, err);
	else if (!strcmp(sub, "check") && n > 0)
		ret = vfio_check_cmd(bdfs, n, force, args->json, err);
	else if (!strcmp(sub, "bind") && n > 0)
		ret = vfio_bind((const char *const *)bdfs, (size_t)n, force, "", err);
	else if (!strcmp(sub, "unbind") && (n > 0) != all)
		ret = vfio_restore((const char *const *)bdfs, (size_t)n, NULL, err) < 0 ? -1 : 0;
	else
		ret = cmd_usage_error(&cmd_vfio_entry, err);
	strv_free(&group);
	pci_names_free();
	return ret;
}

const struct cmd_entry cmd_vfio_entry = {
	.name = "vfio",
	.usage = "list | check [--force] [--with-group] BDF... | bind [--force] [--with-group] BDF... | "
		 "unbind (BDF... | --all) [--json]",
	.help = "host PCI devices for passthrough: IOMMU groups, safety checks, bind to vfio-pci and back "
		"(--with-group: the devices' whole IOMMU groups)",
	.args = { .options = "force,all,with-group", .lower = 1, .upper = -1 },
	.flags = CMD_JSON,
	.exec = cmd_vfio,
};
