/* vmm add, vmm remove, vmm devices, vmm set: hot-plugging disks, NICs, vCPUs and memory into a
 * running VM. The device
 * is written as a profile's disks[] or nics[] element (KEY=VALUE words typed like --set, or
 * --json), checked here by the profile schema, then added by the VM's supervisor, which owns
 * the QMP steps and checks it again against what the VM has (vmm/supervisor/hotplug.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "profiles/resolve.h"
#include "vmm/base/strict.h"
#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/vmref.h"
#include "vmm/launch/live-layer.h"
#include "vmm/supervisor/protocol.h"

/* Milliseconds add and remove may take: the supervisor's steps, and its answer. */
#define HOTPLUG_WAIT_MS (CTL_HOTPLUG_TIMEOUT_MS + VM_ANSWER_TIMEOUT_MS)

/* The device of vmm add: --json's object, then each KEY=VALUE word on top. Returns NULL with err. */
static struct json_object *device_from_args(const struct cmd_args *args, struct verr *err)
{
	const char *text = args_get(args, "json");
	struct json_object *dev = text ? json_tokener_parse(text) : json_object_new_object();

	if (!json_object_is_type(dev, json_type_object)) {
		json_object_put(dev);
		verr_set(err, 0, "--json: expected a JSON object such as '{\"id\": \"data1\", \"file\": \"data1.img\", "
			 "\"format\": \"raw\"}'");
		return NULL;
	}
	for (int i = 2; i < args->argc; i++) {
		const char *eq = strchr(args->argv[i], '=');
		_cleanup_free_ char *key = NULL;
		if (!eq || eq == args->argv[i]) {
			json_object_put(dev);
			verr_set(err, 0, "'%s': expected KEY=VALUE (a key of the profile's %s[] elements)", args->argv[i],
				 !strcmp(args->argv[1], "nic") ? "nics" : !strcmp(args->argv[1], "usb") ? "usb" :
				 !strcmp(args->argv[1], "vfio") ? "passthrough" : "disks");
			return NULL;
		}
		key = strndup(args->argv[i], (size_t)(eq - args->argv[i]));
		/* USB ids are hex digits ("0104"), never numbers; only a bus is one. */
		json_object_object_add(dev, key, !strcmp(args->argv[1], "usb") && strcmp(key, "bus") ?
					 json_object_new_string(eq + 1) : json_from_word(eq + 1));
	}
	return dev;
}

/* Makes a disk's relative "file" absolute against the working directory, as --set does. */
static void absolute_file(struct json_object *dev)
{
	struct json_object *file;
	_cleanup_free_ char *cwd = NULL, *abs = NULL;

	if (!json_object_object_get_ex(dev, "file", &file) || !json_object_is_type(file, json_type_string) ||
	    !json_object_get_string_len(file) || json_object_get_string(file)[0] == '/' || !(cwd = getcwd(NULL, 0)))
		return;
	abs = xasprintf("%s/%s", cwd, json_object_get_string(file));
	json_object_object_add(dev, "file", json_object_new_string(abs));
}

/* Checks a device by the profile schema before the supervisor sees it (every problem at once). */
static int check_device(const char *kind, struct json_object *dev, struct verr *err)
{
	struct disk_config d;
	struct nic_config n;
	struct usb_config u;

	if (!strcmp(kind, "vfio"))
		return 0; /* the supervisor checks it on the host */
	if (!strcmp(kind, "usb")) {
		if (config_usb_from_json(dev, "usb", &u, err) < 0)
			return -1;
		config_usb_free(&u);
		return 0;
	}
	if (!strcmp(kind, "disk")) {
		if (config_disk_from_json(dev, "disk", &d, err) < 0)
			return -1;
		config_disk_free(&d);
		return 0;
	}
	if (config_nic_from_json(dev, "nic", &n, err) < 0)
		return -1;
	config_nic_free(&n);
	return 0;
}

/* Reads a member as a string ("-" when absent). */
static const char *field(struct json_object *o, const char *key)
{
	struct json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_string(v) : "-";
}

/* vmm add NAME disk|nic|vfio KEY=VALUE... [--json OBJECT] [--persist]. */
static int cmd_add(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0], *kind = args->argv[1];
	struct json_object *dev, *req, *r;
	bool persist = args_has(args, "persist");
	int ret;

	if (strcmp(kind, "disk") && strcmp(kind, "nic") && strcmp(kind, "usb") && strcmp(kind, "vfio"))
		return verr_set(err, 0, "'%s': expected disk, nic, usb or vfio (what to add)", kind);
	if (!(dev = device_from_args(args, err)))
		return -1;
	absolute_file(dev);
	if (check_device(kind, dev, err) < 0) {
		json_object_put(dev);
		return -1;
	}
	req = json_object_new_object();
	json_object_object_add(req, CTL_ARG_KIND, json_object_new_string(kind));
	json_object_object_add(req, CTL_ARG_DEVICE, dev);
	if (persist && strcmp(kind, "disk") && strcmp(kind, "nic")) {
		json_object_put(req);
		return verr_set(err, 0, "--persist: a %s device is not kept in the live layer, only disks and NICs (give it "
				"to the VM in its profile's %s)", !strcmp(kind, "vfio") ? "VFIO" : "USB",
				!strcmp(kind, "vfio") ? "passthrough" : "usb");
	}
	/* A layer that cannot take the device refuses the add before the VM has it. */
	if (persist && live_layer_check(name, err) < 0) {
		json_object_put(req);
		return -1;
	}
	if (persist)
		dev = json_object_get(dev);
	if (vm_request(name, CTL_REQ_ADD, req, HOTPLUG_WAIT_MS, &r, err) < 0) {
		json_object_put(persist ? dev : NULL);
		return -1;
	}
	printf("%s '%s' added on %s (%s)\n", kind, field(r, DEV_KEY_ID), field(r, DEV_KEY_PORT), field(r, DEV_KEY_ADDRESS));
	json_object_put(r);
	if (!persist)
		return 0;
	ret = live_layer_put(name, !strcmp(kind, "disk") ? "disks" : "nics", dev, err);
	json_object_put(dev);
	if (ret < 0)
		verr_wrap(err, "the VM has it, but its next start will not");
	return ret;
}

/* True when the VM's device id was hot-added (vmm devices says so). */
static bool hot_added(const char *name, const char *id)
{
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *list, *v;
	bool hot = false;

	if (vm_request(name, CTL_REQ_DEVICES, NULL, VM_ANSWER_TIMEOUT_MS, &list, &err) < 0)
		return false;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		struct json_object *d = json_object_array_get_idx(list, i);
		if (!strcmp(field(d, DEV_KEY_ID), id) && json_object_object_get_ex(d, DEV_KEY_HOTPLUGGED, &v))
			hot = json_object_get_boolean(v);
	}
	json_object_put(list);
	return hot;
}

/* vmm remove NAME ID [--persist]: a device of the live layer that came with the VM's start
 * (a profile device now) is only taken out of the layer: the VM has it until it stops. */
static int cmd_remove(const struct cmd_args *args, struct verr *err)
{
	const char *name = args->argv[0], *id = args->argv[1];
	struct json_object *req, *r;
	int had;

	if (args_has(args, "persist") && live_layer_check(name, err) < 0)
		return -1;
	if (args_has(args, "persist") && !hot_added(name, id)) {
		if ((had = live_layer_drop(name, id, err)) < 0)
			return -1;
		if (had) {
			printf("'%s' is out of the live layer: the VM keeps it until it stops\n", id);
			return 0;
		}
	}
	req = json_object_new_object();
	json_object_object_add(req, CTL_ARG_ID, json_object_new_string(id));
	if (vm_request(name, CTL_REQ_REMOVE, req, HOTPLUG_WAIT_MS, &r, err) < 0)
		return -1;
	json_object_put(r);
	return args_has(args, "persist") && live_layer_drop(name, id, err) < 0 ? -1 : 0;
}

/* vmm set NAME cpus=N | memory=SIZE: the number of vCPUs, or the memory. */
static int cmd_set(const struct cmd_args *args, struct verr *err)
{
	const char *word = args->argv[1], *eq = strchr(word, '=');
	struct json_object *req, *r, *v;
	uint64_t n;

	if (eq && (size_t)(eq - word) == strlen(CTL_ARG_MEMORY) && !strncmp(word, CTL_ARG_MEMORY, strlen(CTL_ARG_MEMORY))) {
		req = json_object_new_object();
		json_object_object_add(req, CTL_ARG_MEMORY, json_object_new_string(eq + 1));
	} else if (eq && (size_t)(eq - word) == strlen(CTL_ARG_CPUS) && !strncmp(word, CTL_ARG_CPUS, strlen(CTL_ARG_CPUS))) {
		if (parse_uint(eq + 1, 1, 1024, &n) < 0)
			return verr_set(err, 0, "'%s': expected a number of vCPUs from 1 to 1024", word);
		req = json_object_new_object();
		json_object_object_add(req, CTL_ARG_CPUS, json_object_new_int((int)n));
	} else
		return verr_set(err, 0, "'%s': expected cpus=N or memory=SIZE", word);
	if (vm_request(args->argv[0], CTL_REQ_SET, req, HOTPLUG_WAIT_MS, &r, err) < 0)
		return -1;
	if (json_object_object_get_ex(r, CTL_ARG_CPUS, &v))
		printf("cpus: %d\n", json_object_get_int(v));
	if (json_object_object_get_ex(r, CTL_ARG_MEMORY, &v))
		printf("memory: %lldM\n", (long long)(json_object_get_int64(v) >> 20));
	json_object_put(r);
	return 0;
}

/* vmm devices NAME [--json]. */
static int cmd_devices(const struct cmd_args *args, struct verr *err)
{
	struct json_object *list;

	if (vm_request(args->argv[0], CTL_REQ_DEVICES, NULL, VM_ANSWER_TIMEOUT_MS, &list, err) < 0)
		return -1;
	if (args->json)
		cmd_print_json(list, JSON_PRETTY);
	else {
		printf("%-16s %-5s %-14s %-16s %-8s %-9s %s\n", "ID", "KIND", "TYPE", "PORT", "ADDRESS", "STATE", "FROM");
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			struct json_object *d = json_object_array_get_idx(list, i), *hot;
			json_object_object_get_ex(d, DEV_KEY_HOTPLUGGED, &hot);
			printf("%-16s %-5s %-14s %-16s %-8s %-9s %s\n", field(d, DEV_KEY_ID), field(d, DEV_KEY_KIND),
			       field(d, DEV_KEY_TYPE), field(d, DEV_KEY_PORT), field(d, DEV_KEY_ADDRESS), field(d, DEV_KEY_STATE),
			       json_object_get_boolean(hot) ? "hot-added" : "profile");
		}
	}
	json_object_put(list);
	return 0;
}

const struct cmd_entry cmd_add_entry = {
	.name = "add",
	.usage = "NAME disk|nic|usb|vfio KEY=VALUE... [--json OBJECT] [--persist]",
	.help = "hot-add a disk, NIC, host USB or PCI device (the keys of a profile's disks[], nics[] or usb[] "
		"element; vfio: host=BDF [with_group=true]); --persist: a disk or NIC also at the next start "
		"(the VM's live layer)",
	.args = { .options = "json:,persist", .lower = 2, .upper = -1 },
	.exec = cmd_add,
};
const struct cmd_entry cmd_remove_entry = {
	.name = "remove",
	.usage = "NAME ID [--persist]",
	.help = "remove a hot-added disk, NIC, USB or VFIO device (once the guest releases it); --persist: also "
		"from the VM's live layer",
	.args = { .options = "persist", .lower = 2, .upper = 2 },
	.exec = cmd_remove,
};
const struct cmd_entry cmd_devices_entry = {
	.name = "devices",
	.usage = "NAME [--json]",
	.help = "list a VM's disks and NICs, from its profile and hot-added, with their ports and states",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_devices,
};
const struct cmd_entry cmd_set_entry = {
	.name = "set",
	.usage = "NAME cpus=N | memory=SIZE",
	.help = "change a running VM's vCPUs or memory (up to hotplug.max_cpus, hotplug.max_memory)",
	.args = { .lower = 2, .upper = 2 },
	.exec = cmd_set,
};
