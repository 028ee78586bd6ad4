/* The builder's devices: where each PCI device goes (the identity's places, root ports), and
 * the disks and NICs, built into a sink (builder-parts.h) so that a device hot-added later is
 * made of exactly the objects the same device gets on the command line. */
#include "vmm/launch/builder-parts.h"

#include <string.h>

#include "vmm/launch/builder-platform.h"

void emit(struct sink *out, const char *option, struct json_object *obj)
{
	struct json_object *part;

	if (out->argv) {
		push_json(out->argv, option, obj);
		return;
	}
	part = json_object_new_object();
	put_str(part, "option", option);
	json_object_object_add(part, "json", obj);
	json_object_array_add(out->list, part);
}

char *build_iothread_id(const struct disk_config *d, unsigned k)
{
	return k ? xasprintf("io-%s-%u", d->id, k) : xasprintf("io-%s", d->id);
}

char *build_pci_key(const char *kind, const char *name)
{
	return xasprintf("%s:%s", kind, name);
}

char *build_port_id(const char *key)
{
	char *id = xasprintf("rp-%s", key);

	for (char *p = id; *p; p++)
		if (*p == ':')
			*p = '-';
	return id;
}

/* The root port of a PCI key at its place on pcie.0: function 0 says the slot is multifunction
 * (ports share slots), chassis and port number are the place, unique and kept; hot-plugging
 * off when hotplug is false. Returns its id. */
static char *push_port_hotplug(const char *key, struct pci_slot at, bool hotplug, struct strv *argv)
{
	char *id = build_port_id(key);
	struct json_object *rp = device("pcie-root-port", id);

	put_str(rp, "bus", "pcie.0");
	put_addr(rp, at);
	if (at.fn == 0)
		put_bool(rp, "multifunction", true);
	put_int(rp, "chassis", at.slot * 8 + at.fn);
	put_int(rp, "port", at.slot * 8 + at.fn);
	if (!hotplug)
		put_bool(rp, "hotplug", false);
	push_json(argv, "-device", rp);
	return id;
}

/* The root port of a PCI key at its place, hot-pluggable. */
char *push_port_at(const char *key, struct pci_slot at, struct strv *argv)
{
	return push_port_hotplug(key, at, true, argv);
}

char *push_port(struct identity *id, const char *key, struct strv *argv)
{
	struct pci_slot at;

	return identity_place(id, key, true, &at) ? push_port_at(key, at, argv) : NULL;
}

char *push_fixed_port(struct identity *id, const char *key, bool hotplug_off, struct strv *argv)
{
	struct pci_slot at;

	return identity_place(id, key, true, &at) ? push_port_hotplug(key, at, !hotplug_off, argv) : NULL;
}

/* At boot: on q35 a PCIe device behind a root port of its own, which goes on the command line
 * first (libvirt's q35 model), unless machine.pcie is pcie.0; other devices, and every device
 * of pc, on the root bus itself. */
void place_pci(const struct vm_config *c, struct identity *id, const char *key, bool pcie, struct json_object *dev,
	       struct sink *out)
{
	struct pci_slot at = { 0 };
	_cleanup_free_ char *bus = NULL;

	if (out->port) {
		put_str(dev, "bus", out->port);
		return;
	}
	if (c->machine == MACHINE_Q35 && pcie && c->pcie == PCIE_ROOT_PORTS)
		bus = push_port(id, key, out->argv);
	else if (identity_place(id, key, false, &at))
		bus = xstrdup(c->machine == MACHINE_Q35 ? "pcie.0" : "pci.0");
	if (!bus)
		return;
	put_str(dev, "bus", bus);
	put_addr(dev, at);
}

/* True when a disk is a CD-ROM for the guest (disks[].media). */
static bool is_cdrom(const struct disk_config *d)
{
	return d->media == MEDIA_CDROM;
}

/* The protocol and format block nodes of one disk. */
static void build_block_nodes(const struct disk_config *d, bool block_device, const char *file_node,
			      const char *fmt_node, struct sink *out)
{
	struct json_object *file = json_object_new_object(), *fmt = json_object_new_object();
	struct json_object *cache = json_object_new_object();

	put_str(file, "driver", block_device ? "host_device" : "file");
	put_str(file, "node-name", file_node);
	put_str(file, "filename", d->file);
	put_str(file, "aio", aio_names[d->aio].qemu);
	put_bool(cache, "direct", d->cache == CACHE_NONE || d->cache == CACHE_DIRECTSYNC);
	put_bool(cache, "no-flush", d->cache == CACHE_UNSAFE);
	json_object_object_add(file, "cache", cache);
	put_bool(file, "read-only", d->readonly);
	if (d->discard)
		put_str(file, "discard", "unmap");
	emit(out, "-blockdev", file);

	put_str(fmt, "driver", format_names[d->format].qemu);
	put_str(fmt, "node-name", fmt_node);
	put_str(fmt, "file", file_node);
	put_bool(fmt, "read-only", d->readonly);
	if (d->discard) {
		put_str(fmt, "discard", "unmap");
		put_str(fmt, "detect-zeroes", "unmap");
	}
	emit(out, "-blockdev", fmt);
}

void build_disk(const struct vm_config *c, struct identity *id, const struct disk_config *d, bool block_device,
		struct bus_slots *slots, struct sink *out)
{
	_cleanup_free_ char *key = build_pci_key("disk", d->id);
	bool write_through = d->cache == CACHE_WRITETHROUGH || d->cache == CACHE_DIRECTSYNC;
	_cleanup_free_ char *file_node = xasprintf("%s-file", d->id), *fmt_node = xasprintf("%s-fmt", d->id);
	_cleanup_free_ char *iothread = xasprintf("io-%s", d->id), *bus = NULL;
	struct json_object *dev;

	build_block_nodes(d, block_device, file_node, fmt_node, out);
	for (unsigned k = 0; d->iothread && k < (d->iothreads > 1 ? d->iothreads : 1); k++) {
		_cleanup_free_ char *io_id = build_iothread_id(d, k);
		struct json_object *io = json_object_new_object();
		put_str(io, "qom-type", "iothread");
		put_str(io, "id", io_id);
		emit(out, "-object", io);
	}
	switch (d->bus) {
	case BUS_SCSI: {
		/* virtio-scsi-single: a controller per disk, with the disk's iothread. */
		_cleanup_free_ char *ctrl_id = xasprintf("%s-scsi", d->id);
		struct json_object *ctrl = device("virtio-scsi-pci", ctrl_id);
		if (d->iothread)
			put_str(ctrl, "iothread", iothread);
		place_pci(c, id, key, true, ctrl, out);
		emit(out, "-device", ctrl);
		bus = xasprintf("%s-scsi.0", d->id);
		dev = device(is_cdrom(d) ? "scsi-cd" : "scsi-hd", d->id);
		put_str(dev, "bus", bus);
		break;
	}
	case BUS_NVME:
		dev = device("nvme", d->id);
		place_pci(c, id, key, true, dev, out);
		break;
	case BUS_SATA:
		if (c->machine == MACHINE_PC && !slots->sata_controller) {
			struct json_object *ahci = device("ich9-ahci", "sata0");
			place_pci(c, id, "sata", false, ahci, out);
			emit(out, "-device", ahci);
			slots->sata_controller = true;
		}
		/* q35's own AHCI controller has buses ide.0 to ide.5. */
		bus = c->machine == MACHINE_Q35 ? xasprintf("ide.%u", slots->sata++) : xasprintf("sata0.%u", slots->sata++);
		dev = device(is_cdrom(d) ? "ide-cd" : "ide-hd", d->id);
		put_str(dev, "bus", bus);
		break;
	case BUS_IDE:
		bus = xasprintf("ide.%u", slots->ide / 2);
		dev = device(is_cdrom(d) ? "ide-cd" : "ide-hd", d->id);
		put_str(dev, "bus", bus);
		put_int(dev, "unit", slots->ide++ % 2);
		break;
	default:
		dev = device("virtio-blk-pci", d->id);
		place_pci(c, id, key, true, dev, out);
		if (d->iothreads > 1) {
			/* Its queues spread over its iothreads, round robin (QEMU 9.0's iothread-vq-mapping). */
			struct json_object *map = json_object_new_array();
			for (unsigned k = 0; k < d->iothreads; k++) {
				_cleanup_free_ char *io_id = build_iothread_id(d, k);
				struct json_object *one = json_object_new_object();
				put_str(one, "iothread", io_id);
				json_object_array_add(map, one);
			}
			json_object_object_add(dev, "iothread-vq-mapping", map);
		} else if (d->iothread)
			put_str(dev, "iothread", iothread);
		break;
	}
	put_str(dev, "drive", fmt_node);
	put_str(dev, "serial", d->serial);
	if (c && out->argv)
		put_int(dev, "bootindex", build_boot_index(c, d));
	if (d->bus != BUS_NVME)
		put_str(dev, "write-cache", write_through ? "off" : "on");
	if (d->ssd && d->bus != BUS_VIRTIO_BLK && d->bus != BUS_NVME && !is_cdrom(d))
		put_int(dev, "rotation_rate", 1);
	emit(out, "-device", dev);
}

void build_nic(const struct vm_config *c, struct identity *id, const struct nic_config *n, const char *mac,
	       struct sink *out)
{
	_cleanup_free_ char *netdev_id = xasprintf("net-%s", n->id), *key = build_pci_key("nic", n->id);
	struct json_object *nd = json_object_new_object(), *dev = device(nic_model_names[n->model].qemu, n->id);

	put_str(nd, "type", nic_type_names[n->type].qemu);
	put_str(nd, "id", netdev_id);
	if (n->type == NIC_BRIDGE)
		put_str(nd, "br", n->bridge);
	if (n->type == NIC_TAP) {
		put_str(nd, "ifname", n->ifname);
		put_str(nd, "script", "no");
		put_str(nd, "downscript", "no");
	}
	emit(out, "-netdev", nd);
	/* e1000 and rtl8139 are conventional PCI: integrated, never behind a PCIe port (at boot). */
	place_pci(c, id, key, n->model == NIC_VIRTIO || n->model == NIC_E1000E, dev, out);
	put_str(dev, "netdev", netdev_id);
	put_str(dev, "mac", mac);
	emit(out, "-device", dev);
}

struct json_object *build_hot_disk(const struct disk_config *d, bool block_device, const char *port)
{
	struct sink out = { .list = json_object_new_array(), .port = port };

	if (d->bus == BUS_SATA || d->bus == BUS_IDE) {
		json_object_put(out.list);
		return NULL;
	}
	build_disk(NULL, NULL, d, block_device, NULL, &out);
	return out.list;
}

struct json_object *build_hot_nic(const struct nic_config *n, const char *mac, const char *port)
{
	struct sink out = { .list = json_object_new_array(), .port = port };

	build_nic(NULL, NULL, n, mac, &out);
	return out.list;
}
