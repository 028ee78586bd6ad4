/* The host's USB and input devices as udev enumerates them (libudev), for usb-host and
 * input-linux: what to put in a profile's `usb` and `input` lists. The stable input paths
 * are the /dev/input/by-id and by-path links udevd made; where none runs (containers,
 * small guests) there are none. */
#ifndef PASSTHROUGH_HOSTDEV_H
#define PASSTHROUGH_HOSTDEV_H

#include <stdbool.h>
#include <stddef.h>

#include "vmm/base/error.h"

/* A USB device (not an interface). */
struct usb_dev {
	unsigned bus;             /* busnum: usb-host's hostbus */
	unsigned devnum;
	char port[32];            /* its port path on the bus ("2.3"), usb-host's hostport; "" for a root hub */
	unsigned vendor, product; /* idVendor, idProduct */
	char manufacturer[96];
	char name[96];            /* the device's product string */
	char serial[64];
	unsigned speed;           /* Mbit/s, 0 when unknown */
	bool hub;                 /* bDeviceClass 9 */
};

/* What an input device reports it can do, from its capability bitmaps. */
enum input_kind { INPUT_OTHER, INPUT_KEYBOARD, INPUT_MOUSE, INPUT_TABLET };

/* An evdev node. */
struct input_dev {
	char node[64];            /* /dev/input/eventN */
	char name[128];           /* the input device's name */
	char phys[96];            /* its physical path as the driver gives it */
	char by_id[160];          /* /dev/input/by-id/..., "" when udevd made no such link */
	char by_path[160];        /* /dev/input/by-path/..., "" likewise (same size as by_id) */
	enum input_kind kind;
};

/* The names of enum input_kind. */
extern const char *const input_kind_names[];

/* Every USB device, ordered by bus and port. Returns 0, or -1 with err. */
int usb_list(struct usb_dev **out, size_t *n, struct verr *err);

/* Every evdev node, ordered by node. Returns 0, or -1 with err. */
int input_list(struct input_dev **out, size_t *n, struct verr *err);

/* Waits up to timeout_ms for the device node PATH of SUBSYSTEM (e.g. "vfio") to exist,
 * woken by the device's uevents: udevd's once it has made the node ready when udevd runs,
 * else the kernel's (devtmpfs made the node before sending it). Returns 0, or -1 with err. */
int hostdev_wait_node(const char *subsystem, const char *path, int timeout_ms, struct verr *err);

#endif
