/* vmm usb list, vmm input list: the host's USB and input devices (passthrough/hostdev.h),
 * for a profile's `usb` and `input` lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "passthrough/hostdev.h"
#include "vmm/cli/cmd.h"

/* One USB device as JSON. */
static struct json_object *usb_json(const struct usb_dev *u)
{
	struct json_object *o = json_object_new_object();
	char id[8];

	json_object_object_add(o, "bus", json_object_new_int((int)u->bus));
	json_object_object_add(o, "port", json_object_new_string(u->port));
	json_object_object_add(o, "devnum", json_object_new_int((int)u->devnum));
	snprintf(id, sizeof(id), "%04x", u->vendor);
	json_object_object_add(o, "vendor", json_object_new_string(id));
	snprintf(id, sizeof(id), "%04x", u->product);
	json_object_object_add(o, "product", json_object_new_string(id));
	json_object_object_add(o, "manufacturer", json_object_new_string(u->manufacturer));
	json_object_object_add(o, "name", json_object_new_string(u->name));
	json_object_object_add(o, "serial", json_object_new_string(u->serial));
	json_object_object_add(o, "speed_mbps", json_object_new_int((int)u->speed));
	json_object_object_add(o, "hub", json_object_new_boolean(u->hub));
	return o;
}

/* vmm usb list: a line per device (hubs marked), or a JSON array. */
static int cmd_usb(const struct cmd_args *args, struct verr *err)
{
	struct usb_dev *devs;
	size_t n;

	if (strcmp(args->argv[0], "list"))
		return cmd_usage_error(&cmd_usb_entry, err);
	if (usb_list(&devs, &n, err) < 0)
		return -1;
	if (args->json) {
		struct json_object *all = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(all, usb_json(&devs[i]));
		cmd_print_json(all, JSON_PRETTY);
		json_object_put(all);
	} else if (!n) {
		printf("no USB devices\n");
	} else {
		printf("%-4s %-8s %-10s %6s  %s\n", "BUS", "PORT", "ID", "SPEED", "NAME");
		for (size_t i = 0; i < n; i++)
			printf("%-4u %-8s %04x:%04x  %5uM  %s%s%s%s\n", devs[i].bus, devs[i].port[0] ? devs[i].port : "-",
			       devs[i].vendor, devs[i].product, devs[i].speed, devs[i].manufacturer,
			       devs[i].manufacturer[0] && devs[i].name[0] ? " " : "", devs[i].name,
			       devs[i].hub ? " (hub)" : "");
	}
	free(devs);
	return 0;
}

/* One input device as JSON. */
static struct json_object *input_json(const struct input_dev *in)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "node", json_object_new_string(in->node));
	json_object_object_add(o, "kind", json_object_new_string(input_kind_names[in->kind]));
	json_object_object_add(o, "name", json_object_new_string(in->name));
	json_object_object_add(o, "phys", json_object_new_string(in->phys));
	json_object_object_add(o, "by_id", in->by_id[0] ? json_object_new_string(in->by_id) : NULL);
	json_object_object_add(o, "by_path", in->by_path[0] ? json_object_new_string(in->by_path) : NULL);
	return o;
}

/* vmm input list: each evdev node with what it is and its stable path, or a JSON array. */
static int cmd_input(const struct cmd_args *args, struct verr *err)
{
	struct input_dev *devs;
	bool unnamed = false;
	size_t n;

	if (strcmp(args->argv[0], "list"))
		return cmd_usage_error(&cmd_input_entry, err);
	if (input_list(&devs, &n, err) < 0)
		return -1;
	if (args->json) {
		struct json_object *all = json_object_new_array();

		for (size_t i = 0; i < n; i++)
			json_object_array_add(all, input_json(&devs[i]));
		cmd_print_json(all, JSON_PRETTY);
		json_object_put(all);
	} else if (!n) {
		printf("no input devices\n");
	} else {
		printf("%-20s %-9s %-32s %s\n", "NODE", "KIND", "NAME", "STABLE PATH");
		for (size_t i = 0; i < n; i++) {
			const char *stable = devs[i].by_id[0] ? devs[i].by_id : devs[i].by_path;

			printf("%-20s %-9s %-32s %s\n", devs[i].node, input_kind_names[devs[i].kind], devs[i].name,
			       stable[0] ? stable : "-");
			unnamed |= !stable[0];
		}
		if (unnamed)
			printf("(-: udev gave no /dev/input/by-id or by-path name; an event node's number may "
			       "change when devices come and go)\n");
	}
	free(devs);
	return 0;
}

const struct cmd_entry cmd_usb_entry = {
	.name = "usb",
	.usage = "list [--json]",
	.help = "the host's USB devices (bus, port, ids) for a profile's usb list",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_usb,
};

const struct cmd_entry cmd_input_entry = {
	.name = "input",
	.usage = "list [--json]",
	.help = "the host's input devices (evdev nodes, kind, stable paths) for a profile's input list",
	.args = { .lower = 1, .upper = 1 },
	.flags = CMD_JSON,
	.exec = cmd_input,
};
