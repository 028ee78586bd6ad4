/* Hot-plugging host USB devices (vmm add NAME usb vendor=..,product=.. | bus=..,port=..): a
 * usb[] element of a profile becomes a usb-host device on the VM's xHCI controller (the same
 * object the builder gives it at boot), added by device_add and removed by device_del like the
 * other hot-added devices (hotplug-steps.c); it takes no root port. */
#include "vmm/supervisor/hotplug-dev.h"

#include <string.h>

#include "vmm/launch/builder-platform.h"

/* Fails when id is taken: a profile's USB device or a hot-added device (QEMU refuses the
 * other clashes, and the add is undone). */
static int check_usb_id(const struct hotplug *hp, const char *id, struct verr *err)
{
	const struct vm_config *c = &hp->plan->config;

	for (size_t i = 0; i < c->n_usb; i++)
		if (!strcmp(c->usb[i].id, id))
			return verr_set(err, 0, "usb: id: '%s' is a USB device of the VM's profile", id);
	if (hp_find(hp, id))
		return verr_set(err, 0, "usb: id: '%s' is already a hot-added device", id);
	return 0;
}

struct hp_device *hp_prepare_usb(struct hotplug *hp, struct json_object *json, struct verr *err)
{
	struct json_object *parts, *part;
	struct usb_config u;
	struct hp_device *d = NULL;

	if (config_usb_from_json(json, "usb", &u, err) < 0)
		return NULL;
	if (hp->plan->config.machine != MACHINE_Q35)
		verr_set(err, 0, "usb: the VM has no xHCI controller to plug a USB device into (machine.type q35 has one)");
	else if (check_usb_id(hp, u.id, err) == 0) {
		parts = json_object_new_array();
		part = json_object_new_object();
		json_object_object_add(part, "option", json_object_new_string("-device"));
		json_object_object_add(part, "json", build_usb_host(&u));
		json_object_array_add(parts, part);
		d = hp_new_device(hp, json, u.id, HP_USB, parts, -1);
		d->type = xstrdup("usb-host");
	}
	config_usb_free(&u);
	return d;
}
