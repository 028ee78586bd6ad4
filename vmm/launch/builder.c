#include "vmm/launch/builder-parts.h"

#include <string.h>

#include <json-c/json.h>

#include "passthrough/pci.h"
#include "profiles/topology.h"
#include "vmm/launch/builder-platform.h"

char *qemu_opt_escape(const char *value)
{
	size_t n = strlen(value) + 1;
	char *out, *o;

	for (const char *p = value; *p; p++)
		n += *p == ',';
	o = out = xmalloc(n);
	for (const char *p = value; *p; p++) {
		*o++ = *p;
		if (*p == ',')
			*o++ = ',';
	}
	*o = '\0';
	return out;
}

/* -numa node,nodeid=N,cpus=A,cpus=B,...,memdev=ram-nodeN for one guest NUMA node. */
static void push_numa_node(const struct numa_config *n, size_t i, struct strv *argv)
{
	char *s = xasprintf("node,nodeid=%zu", i), *longer;

	for (size_t j = 0; j < n->cpus.n; j++, s = longer) {
		longer = xasprintf("%s,cpus=%u", s, n->cpus.cpus[j]);
		free(s);
	}
	strv_push(argv, "-numa");
	strv_pushf(argv, "%s,memdev=ram-node%zu", s, i);
	free(s);
}

bool build_shared_ram(const struct vm_config *c)
{
	return (c->shared_ram || c->hugepages) && !c->n_numa;
}

/* One RAM backend: the supervisor's shared memfd for the one backend of the guest RAM
 * (build_shared_ram; hugetlb for huge pages), else a hugetlb memfd of QEMU's (a NUMA node on
 * huge pages) or plain RAM; bound to a host node when asked. */
static void push_memory_backend(const struct vm_config *c, const char *id, uint64_t size, int host_node,
				struct strv *argv)
{
	struct json_object *o = json_object_new_object();

	if (build_shared_ram(c)) {
		_cleanup_free_ char *path = xasprintf("/proc/self/fd/%d", LAUNCH_RAM_FD);
		put_str(o, "qom-type", "memory-backend-file");
		put_str(o, "id", id);
		put_int(o, "size", (int64_t)size);
		put_str(o, "mem-path", path);
		put_bool(o, "share", true);
	} else {
		put_str(o, "qom-type", c->hugepages ? "memory-backend-memfd" : "memory-backend-ram");
		put_str(o, "id", id);
		put_int(o, "size", (int64_t)size);
	}
	if (c->hugepages && !build_shared_ram(c)) {
		put_bool(o, "hugetlb", true);
		put_int(o, "hugetlbsize", (int64_t)hugepage_sizes[c->hugepages].bytes);
	}
	if (c->hugepages || c->prealloc)
		put_bool(o, "prealloc", true);
	if (host_node >= 0) {
		struct json_object *nodes = json_object_new_array();
		json_object_array_add(nodes, json_object_new_int(host_node));
		json_object_object_add(o, "host-nodes", nodes);
		put_str(o, "policy", "bind");
	}
	push_json(argv, "-object", o);
}

/* -machine (the identity's versioned type), -uuid, -accel, -cpu, -smp, -m and the memory backends. */
static void build_machine(const struct vm_config *c, const struct launch *l, struct identity *id,
			  struct strv *argv)
{
	bool one_backend = !c->n_numa;
	_cleanup_free_ char *cpu = NULL;

	strv_push(argv, "-machine");
	strv_pushf(argv, "%s%s%s%s%s", identity_machine_type(id),
		   l->fw_code ? ",pflash0=fw-code,pflash1=fw-vars" : "",
		   c->firmware == FIRMWARE_OVMF_SECBOOT ? ",smm=on" : "", one_backend ? ",memory-backend=ram0" : "",
		   build_machine_options(c, l));
	strv_push(argv, "-uuid");
	strv_push(argv, identity_uuid(id));
	if (c->firmware == FIRMWARE_OVMF_SECBOOT) {
		/* Only code running in SMM may write the vars: what makes Secure Boot secure. */
		strv_push(argv, "-global");
		strv_push(argv, "driver=cfi.pflash01,property=secure,value=on");
	}
	strv_push(argv, "-accel");
	strv_push(argv, accel_names[l->accel]);
	if (config_pins(c))
		strv_push(argv, "-S"); /* paused until the supervisor has pinned the threads, then cont */
	cpu = build_cpu_model(c, l);
	strv_push(argv, "-cpu");
	strv_push(argv, cpu);
	strv_push(argv, "-smp");
	if (c->max_cpus > config_vcpus(c))
		strv_pushf(argv, "cpus=%u,maxcpus=%u,sockets=%u,cores=%u,threads=%u", config_vcpus(c), c->max_cpus,
			   c->max_cpus / (c->cores * c->threads), c->cores, c->threads);
	else
		strv_pushf(argv, "%u,sockets=%u,cores=%u,threads=%u", config_vcpus(c), c->sockets, c->cores,
			   c->threads);
	strv_push(argv, "-m");
	if (c->max_memory)
		strv_pushf(argv, "size=%lluM,slots=%u,maxmem=%lluM", (unsigned long long)(c->memory >> 20),
			   c->mem_slots, (unsigned long long)(c->max_memory >> 20));
	else
		strv_pushf(argv, "%lluM", (unsigned long long)(c->memory >> 20));
	if (one_backend)
		push_memory_backend(c, "ram0", c->memory, -1, argv);
	for (size_t i = 0; i < c->n_numa; i++) {
		_cleanup_free_ char *node = xasprintf("ram-node%zu", i);
		push_memory_backend(c, node, c->numa[i].size, c->numa[i].host_node, argv);
		push_numa_node(&c->numa[i], i, argv);
	}
}

/* The two pflash block nodes of UEFI: the shared read-only code and the VM's own vars. */
static void build_firmware(const struct launch *l, struct strv *argv)
{
	build_flash_node("fw-code", l->fw_code, l->fw_code_format, true, argv);
	build_flash_node("fw-vars", l->fw_vars, l->fw_vars_format, false, argv);
}

/* The monitors (the supervisor's and the QMP proxy's), serial console, guest agent channel and display. */
static void build_chardevs(const struct vm_config *c, const struct launch *l, struct identity *id,
			   struct strv *argv)
{
	struct sink boot = { .argv = argv };

	strv_push(argv, "-chardev");
	strv_pushf(argv, "socket,id=monitor,fd=%d,server=on,wait=off", LAUNCH_MONITOR_FD);
	strv_push(argv, "-mon");
	strv_push(argv, "chardev=monitor,mode=control");
	/* The QMP proxy's own monitor: clients never queue in front of the supervisor. */
	strv_push(argv, "-chardev");
	strv_pushf(argv, "socket,id=proxy-monitor,fd=%d,server=on,wait=off", LAUNCH_PROXY_MONITOR_FD);
	strv_push(argv, "-mon");
	strv_push(argv, "chardev=proxy-monitor,mode=control");
	strv_push(argv, "-chardev");
	/* No logfile: the supervisor logs the console, with a cap (vmm/supervisor/console.h). */
	strv_pushf(argv, "socket,id=console,fd=%d,server=on,wait=off", LAUNCH_CONSOLE_FD);
	if (c->serial_console) {
		strv_push(argv, "-serial");
		strv_push(argv, "chardev:console");
	}
	if (c->agent) {
		struct json_object *port = device("virtserialport", NULL), *vser = device("virtio-serial-pci", "vser0");
		/* Like the console: agent.sock is bound by the supervisor, which stays connected. */
		strv_push(argv, "-chardev");
		strv_pushf(argv, "socket,id=agent,fd=%d,server=on,wait=off", LAUNCH_AGENT_FD);
		place_pci(c, id, "agent", true, vser, &boot);
		push_json(argv, "-device", vser);
		put_str(port, "bus", "vser0.0");
		put_str(port, "chardev", "agent");
		put_str(port, "name", "org.qemu.guest_agent.0");
		push_json(argv, "-device", port);
	}
	strv_push(argv, "-display");
	if (c->display == DISPLAY_VNC) {
		_cleanup_free_ char *sock = xasprintf("%s/vnc.sock", l->run_dir), *sock_escaped = qemu_opt_escape(sock);
		strv_pushf(argv, "%s=unix:%s", display_names[DISPLAY_VNC].qemu, sock_escaped);
	} else
		strv_push(argv, display_names[c->display].qemu);
	if (c->display != DISPLAY_NONE) {
		struct json_object *vga = device("VGA", "video0");
		place_pci(c, id, "video", false, vga, &boot);
		push_json(argv, "-device", vga);
	}
}

/* The NICs, each with the profile's MAC or the identity's. */
static void build_nics(const struct vm_config *c, struct identity *id, struct strv *argv)
{
	struct sink out = { .argv = argv };

	for (size_t i = 0; i < c->n_nics; i++)
		build_nic(c, id, &c->nics[i], c->nics[i].mac ? c->nics[i].mac : identity_mac(id, c->nics[i].id), &out);
}

/* The device each passed-through device shares a slot with: functions of one host slot go
 * together when multifunction (the first of them leads), every other device leads itself. */
static void passthrough_leaders(const struct vm_config *c, size_t *leader)
{
	for (size_t i = 0; i < c->n_passthrough; i++) {
		const struct passthrough_config *p = &c->passthrough[i];
		size_t j = 0;

		while (j < i && !(p->multifunction && c->passthrough[j].multifunction &&
				  pci_same_slot(c->passthrough[j].host, p->host)))
			j++;
		leader[i] = j;
	}
}

/* The host PCI devices: vfio-pci, a slot for each leader and the functions that go with it: on
 * q35 behind a root port of its own (key "hostdev:" and the leader's address), on pc on the
 * root bus. */
static void build_passthrough(const struct vm_config *c, const struct launch *l, struct identity *id,
			      struct strv *argv)
{
	_cleanup_free_ size_t *leader = xzalloc((c->n_passthrough + 1) * sizeof(size_t));
	_cleanup_free_ struct pci_slot *slot = xzalloc((c->n_passthrough + 1) * sizeof(struct pci_slot));
	struct strv bus = { 0 };

	passthrough_leaders(c, leader);
	for (size_t i = 0; i < c->n_passthrough; i++) {
		_cleanup_free_ char *key = xasprintf("hostdev:%s", c->passthrough[i].host);
		char *b = NULL;
		if (leader[i] == i && c->machine == MACHINE_Q35)
			b = push_fixed_port(id, key, l->port_hotplug, argv);
		else if (leader[i] == i && identity_place(id, key, false, &slot[i]))
			b = xstrdup("pci.0");
		strv_push(&bus, b ? b : "");
		free(b);
	}
	for (size_t i = 0; i < c->n_passthrough; i++) {
		const struct passthrough_config *p = &c->passthrough[i];
		_cleanup_free_ char *name = xasprintf("hostdev%zu", i);
		struct json_object *dev = device("vfio-pci", name);
		struct pci_slot at = { slot[leader[i]].slot, p->multifunction ? pci_function(p->host) : 0 };

		put_str(dev, "host", p->host);
		if (*bus.v[leader[i]]) {
			put_str(dev, "bus", bus.v[leader[i]]);
			put_addr(dev, at);
			if (p->multifunction && at.fn == 0)
				put_bool(dev, "multifunction", true);
		}
		if (p->x_vga)
			put_bool(dev, "x-vga", true);
		if (p->rom)
			put_str(dev, "romfile", p->rom);
		push_json(argv, "-device", dev);
	}
	strv_free(&bus);
}

/* The pvpanic device, ISA at port 0x505 and announced in ACPI (QEMU0001: Linux's pvpanic-mmio,
 * virtio-win's pvpanic), so it takes no PCI slot; a guest kernel panic becomes GUEST_PANICKED
 * and then a SHUTDOWN with reason guest-panic (QEMU 7.2's default action, made explicit). */
static void build_panic(const struct vm_config *c, const struct launch *l, struct strv *argv)
{
	if (!c->panic || !l->pvpanic)
		return;
	push_json(argv, "-device", device("pvpanic", "panic0"));
	strv_push(argv, "-action");
	strv_push(argv, "panic=shutdown");
}

bool build_has_virtio_mem(const struct vm_config *c, const struct launch *l)
{
	return c->max_memory && l->virtio_mem;
}

uint64_t build_virtio_mem_block(const struct vm_config *c)
{
	return c->hugepages ? hugepage_sizes[c->hugepages].bytes : 2ull << 20;
}

/* The memory a running VM may be given (hotplug.max_memory): a virtio-mem device whose backend
 * (huge pages like the rest of its memory) holds all of it, reserving nothing on the host, and
 * none of it plugged at boot; what it plugs is preallocated when the VM's memory is. */
static void build_virtio_mem(const struct vm_config *c, const struct launch *l, struct identity *id,
			     struct strv *argv)
{
	struct sink boot = { .argv = argv };
	struct json_object *mem, *dev;

	if (!build_has_virtio_mem(c, l))
		return;
	mem = json_object_new_object();
	put_str(mem, "qom-type", c->hugepages ? "memory-backend-memfd" : "memory-backend-ram");
	put_str(mem, "id", "mem-" BUILD_VIRTIO_MEM_ID);
	put_int(mem, "size", (int64_t)(c->max_memory - c->memory));
	if (c->hugepages) {
		put_bool(mem, "hugetlb", true);
		put_int(mem, "hugetlbsize", (int64_t)hugepage_sizes[c->hugepages].bytes);
	}
	put_bool(mem, "reserve", false);
	push_json(argv, "-object", mem);
	dev = device("virtio-mem-pci", BUILD_VIRTIO_MEM_ID);
	place_pci(c, id, "memory", true, dev, &boot);
	put_str(dev, "memdev", "mem-" BUILD_VIRTIO_MEM_ID);
	put_int(dev, "requested-size", 0);
	if (c->hugepages)
		put_int(dev, "block-size", (int64_t)build_virtio_mem_block(c));
	if (c->hugepages || c->prealloc)
		put_bool(dev, "prealloc", true);
	push_json(argv, "-device", dev);
}

/* True when a NIC needs QEMU to start a helper program (the bridge helper). */
static bool needs_spawn(const struct vm_config *c)
{
	for (size_t i = 0; i < c->n_nics; i++)
		if (c->nics[i].type == NIC_BRIDGE)
			return true;
	return false;
}

/* The spare root ports of hotplug.root_ports (keys "hotplug:N"), for device_add. */
static void build_hotplug_ports(const struct vm_config *c, struct identity *id, struct strv *argv)
{
	for (unsigned i = 0; i < c->root_ports; i++) {
		_cleanup_free_ char *n = xasprintf("%u", i), *key = build_pci_key("hotplug", n);
		free(push_port(id, key, argv));
	}
}

/* The root ports the identity keeps for devices the profile no longer has, empty, so the ports
 * after them keep their bus numbers (and a device added later can go there by device_add). */
static void build_kept_ports(const struct vm_config *c, struct identity *id, struct strv *argv)
{
	struct strv keys = { 0 };

	if (c->machine != MACHINE_Q35)
		return;
	identity_unplaced_ports(id, &keys);
	for (size_t i = 0; i < keys.n; i++)
		free(push_port_at(keys.v[i], identity_port_at(id, keys.v[i]), argv));
	strv_free(&keys);
}

void build_argv(const struct vm_config *c, const struct launch *l, struct identity *id, struct strv *argv)
{
	struct bus_slots slots = { 0 };
	struct sink boot = { .argv = argv };

	strv_push(argv, l->binary);
	for (size_t i = 0; l->data_dirs && i < l->data_dirs->n; i++) {
		strv_push(argv, "-L");
		strv_push(argv, l->data_dirs->v[i]);
	}
	strv_pushf(argv, "-name");
	strv_pushf(argv, "guest=%s,debug-threads=on", c->name);
	strv_push(argv, "-no-user-config");
	strv_push(argv, "-nodefaults");
	strv_push(argv, "-msg");
	strv_push(argv, "timestamp=on");
	if (!l->no_sandbox) {
		strv_push(argv, "-sandbox");
		strv_pushf(argv, "on,obsolete=deny,elevateprivileges=deny,spawn=%s,resourcecontrol=deny",
			   needs_spawn(c) ? "allow" : "deny");
	}
	if (l->fw_code)
		build_firmware(l, argv);
	build_machine(c, l, id, argv);
	build_platform(c, l, argv);
	build_chardevs(c, l, id, argv);
	build_hotplug_ports(c, id, argv);
	if (c->kernel) {
		strv_push(argv, "-kernel");
		strv_push(argv, c->kernel);
	}
	if (c->initrd) {
		strv_push(argv, "-initrd");
		strv_push(argv, c->initrd);
	}
	if (c->append) {
		strv_push(argv, "-append");
		strv_push(argv, c->append);
	}
	for (size_t i = 0; i < c->n_disks; i++)
		build_disk(c, id, &c->disks[i], l->block_device && l->block_device[i], &slots, &boot);
	build_boot_strict(c, argv);
	build_nics(c, id, argv);
	build_passthrough(c, l, id, argv);
	if (c->balloon) {
		struct json_object *balloon = device("virtio-balloon-pci", "balloon0");
		/* The pages the guest frees go back to the host, but for memory a balloon cannot give. */
		if (!c->hugepages && !c->n_passthrough)
			put_bool(balloon, "free-page-reporting", true);
		place_pci(c, id, "balloon", true, balloon, &boot);
		push_json(argv, "-device", balloon);
	}
	build_virtio_mem(c, l, id, argv);
	build_desktop(c, id, argv);
	build_usb(c, id, argv);
	build_kept_ports(c, id, argv);
	build_panic(c, l, argv);
	for (size_t i = 0; c->extra_args && c->extra_args[i]; i++)
		strv_push(argv, c->extra_args[i]);
}
