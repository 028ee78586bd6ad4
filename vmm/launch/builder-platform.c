/* The builder's platform: what a guest OS expects of the board besides its devices. Windows'
 * clocks and power states, the Hyper-V enlightenments the QEMU has, the TPM (swtpm's socket),
 * the boot order, and USB (q35's xHCI controller, a tablet for a display, host USB devices)
 * and host input devices (input-linux). */
#include "vmm/launch/builder-parts.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "vmm/launch/builder-platform.h"

/* The Hyper-V enlightenments a Windows guest gets under KVM, in the order QEMU's docs list
 * them; each only when the probed CPU model has it. hv-stimer-direct, hv-tlbflush and hv-ipi
 * build on hv-stimer and hv-vpindex, which come first. */
static const struct {
	const char *property, *value;
} hyperv[] = {
	{ "hv-relaxed", "on" }, { "hv-vapic", "on" }, { "hv-spinlocks", "0x1fff" }, { "hv-vpindex", "on" },
	{ "hv-runtime", "on" }, { "hv-time", "on" }, { "hv-synic", "on" }, { "hv-stimer", "on" },
	{ "hv-stimer-direct", "on" }, { "hv-reset", "on" }, { "hv-frequencies", "on" },
	{ "hv-reenlightenment", "on" }, { "hv-tlbflush", "on" }, { "hv-ipi", "on" },
};

void platform_facts(const struct qemu_caps *caps, const char *machine, struct launch *l, struct strv *hv)
{
	_cleanup_free_ char *type = xasprintf("%s-machine", caps_machine_version(caps, machine) ?
					      caps_machine_version(caps, machine) : machine);

	for (size_t i = 0; i < sizeof(hyperv) / sizeof(hyperv[0]); i++)
		if (caps_has_property(caps, "max-x86_64-cpu", hyperv[i].property))
			strv_pushf(hv, "%s=%s", hyperv[i].property, hyperv[i].value);
	l->hyperv = hv;
	l->hpet = caps_has_property(caps, type, "hpet");
	l->port_hotplug = caps_has_property(caps, "pcie-root-port", "hotplug");
}

int platform_check_host(const struct vm_config *c, struct verr *err)
{
	for (size_t i = 0; i < c->n_input; i++)
		if (access(c->input[i].evdev, R_OK) < 0)
			return verr_set(err, errno, "input[%zu].evdev: cannot open '%s' (a host event device, such as "
					"/dev/input/by-id/*-event-kbd)", i, c->input[i].evdev);
	return 0;
}

char *build_cpu_model(const struct vm_config *c, const struct launch *l)
{
	char *cpu = xstrdup(c->cpu_model ? c->cpu_model : l->accel == ACCEL_KVM ? "host" : "max");

	/* Under TCG QEMU has no Hyper-V enlightenments to give: lint says so. */
	for (size_t i = 0; c->hyperv && l->accel == ACCEL_KVM && l->hyperv && i < l->hyperv->n; i++) {
		char *with = xasprintf("%s,%s", cpu, l->hyperv->v[i]);
		free(cpu);
		cpu = with;
	}
	return cpu;
}

const char *build_machine_options(const struct vm_config *c, const struct launch *l)
{
	/* Windows counts on the Hyper-V clock (hv-time); an HPET beside it only costs exits. */
	return c->os == OS_WINDOWS && l->hpet ? ",hpet=off" : "";
}

/* The TPM: QEMU gets a connection to the control socket of the VM's swtpm, which the
 * supervisor starts first (vmm/supervisor/swtpm.h) and connects to: QEMU running as its own
 * user (qemu.user) cannot reach the run directory; tpm-crb on q35 (what Windows 11 asks for),
 * tpm-tis on pc. */
static void build_tpm(const struct vm_config *c, struct strv *argv)
{
	struct json_object *dev = device(c->machine == MACHINE_Q35 ? "tpm-crb" : "tpm-tis", "tpm0");

	strv_push(argv, "-chardev");
	strv_pushf(argv, "socket,id=tpm-chr,fd=%d", LAUNCH_TPM_FD);
	strv_push(argv, "-tpmdev");
	strv_push(argv, "emulator,id=tpm-dev,chardev=tpm-chr");
	put_str(dev, "tpmdev", "tpm-dev");
	push_json(argv, "-device", dev);
}

void build_platform(const struct vm_config *c, const struct launch *l, struct strv *argv)
{
	const char *pm = c->machine == MACHINE_Q35 ? "ICH9-LPC" : "PIIX4_PM";

	if (c->os == OS_WINDOWS) {
		/* Windows keeps the RTC in local time; slew catches up ticks lost while the vCPU waited. */
		strv_push(argv, "-rtc");
		strv_push(argv, "base=localtime,driftfix=slew");
		if (l->accel == ACCEL_KVM) {
			/* Deliver late PIT ticks late, never drop them (KVM's in-kernel PIT only). */
			strv_push(argv, "-global");
			strv_push(argv, "kvm-pit.lost_tick_policy=delay");
		}
		/* Sleep and hibernation of a VM lose its devices' state (passthrough above all). */
		strv_push(argv, "-global");
		strv_pushf(argv, "%s.disable_s3=1", pm);
		strv_push(argv, "-global");
		strv_pushf(argv, "%s.disable_s4=1", pm);
	}
	if (c->tpm)
		build_tpm(c, argv);
}

int build_boot_index(const struct vm_config *c, const struct disk_config *d)
{
	int index = 1;

	if (c->boot_from)
		index++;
	if (c->boot_from && !strcmp(c->boot_from, d->id))
		return 1;
	/* Disks first, in profile order, then CD-ROMs: an installer boots only once asked (boot.from). */
	for (size_t pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < c->n_disks; i++) {
			const struct disk_config *o = &c->disks[i];
			if ((o->media == MEDIA_CDROM) != (pass == 1) || (c->boot_from && !strcmp(c->boot_from, o->id)))
				continue;
			if (o == d)
				return index;
			index++;
		}
	return index;
}

void build_boot_strict(const struct vm_config *c, struct strv *argv)
{
	if (!c->n_disks)
		return;
	/* Only what has a bootindex boots: no fall-through to iPXE or a stray option ROM. */
	strv_push(argv, "-boot");
	strv_push(argv, "strict=on");
}

struct json_object *build_usb_host(const struct usb_config *u)
{
	struct json_object *dev = device("usb-host", u->id);

	put_str(dev, "bus", BUILD_USB_BUS);
	if (u->vendor) {
		put_int(dev, "vendorid", u->vendor);
		put_int(dev, "productid", u->product);
	} else {
		put_int(dev, "hostbus", u->bus);
		put_str(dev, "hostport", u->port);
	}
	return dev;
}

void build_usb(const struct vm_config *c, struct identity *id, struct strv *argv)
{
	struct sink boot = { .argv = argv };

	if (c->machine == MACHINE_Q35) {
		struct json_object *xhci = device("qemu-xhci", BUILD_USB_CONTROLLER);
		/* 15 USB 2 and 15 USB 3 ports: room for a hub's worth of host devices. */
		put_int(xhci, "p2", 15);
		put_int(xhci, "p3", 15);
		place_pci(c, id, "usb", true, xhci, &boot);
		push_json(argv, "-device", xhci);
		if (c->display != DISPLAY_NONE) {
			/* Absolute pointing: the guest's pointer follows the client's, no grab. */
			struct json_object *tablet = device("usb-tablet", "tablet0");
			put_str(tablet, "bus", BUILD_USB_BUS);
			push_json(argv, "-device", tablet);
		}
	}
	for (size_t i = 0; i < c->n_usb; i++)
		push_json(argv, "-device", build_usb_host(&c->usb[i]));
	for (size_t i = 0; i < c->n_input; i++) {
		struct json_object *o = json_object_new_object();
		_cleanup_free_ char *name = xasprintf("evdev%zu", i);
		put_str(o, "qom-type", "input-linux");
		put_str(o, "id", name);
		put_str(o, "evdev", c->input[i].evdev);
		if (c->input[i].grab_all)
			put_bool(o, "grab_all", true);
		if (c->input[i].grab_toggle)
			put_str(o, "grab-toggle", c->input[i].grab_toggle);
		push_json(argv, "-object", o);
	}
}

void build_flash_node(const char *node, const char *file, const char *format, bool read_only, struct strv *argv)
{
	struct json_object *proto = json_object_new_object(), *fmt;
	_cleanup_free_ char *proto_node = xasprintf("%s-file", node);
	bool qcow2 = format && !strcmp(format, "qcow2");

	/* Raw: the file node is the flash itself (no raw format layer, as libvirt does). */
	put_str(proto, "driver", "file");
	put_str(proto, "node-name", qcow2 ? proto_node : node);
	put_str(proto, "filename", file);
	put_bool(proto, "read-only", read_only);
	push_json(argv, "-blockdev", proto);
	if (!qcow2)
		return;
	fmt = json_object_new_object();
	put_str(fmt, "driver", "qcow2");
	put_str(fmt, "node-name", node);
	put_str(fmt, "file", proto_node);
	put_bool(fmt, "read-only", read_only);
	push_json(argv, "-blockdev", fmt);
}
