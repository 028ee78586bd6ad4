#include "profiles/lint.h"
#include "profiles/lint-int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "passthrough/pci.h"
#include "vmm/base/host.h"
#include "profiles/jsonread.h"
#include "vmm/base/util.h"

/* Reads one number from a sysfs file below the root ("" when unreadable: 0). */
static uint64_t read_number(const char *root, const char *path)
{
	_cleanup_free_ char *p = xasprintf("%s/%s", root, path);
	FILE *f = fopen(p, "re");
	unsigned long long v = 0;

	if (f) {
		if (fscanf(f, "%llu", &v) != 1)
			v = 0;
		fclose(f);
	}
	return v;
}

/* Reads "Node N MemTotal: X kB" from a node's meminfo. */
static uint64_t node_memory(const char *root, unsigned node)
{
	_cleanup_free_ char *p = xasprintf("%s/devices/system/node/node%u/meminfo", root, node);
	FILE *f = fopen(p, "re");
	unsigned long long kb = 0;
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Node %*u MemTotal: %llu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb << 10;
}

/* Reads the CPUs, NUMA nodes, memory and free huge pages of the host. */
void host_facts_read(struct host_facts *h)
{
	const char *root = pci_sysfs_root();

	*h = (struct host_facts){ .cpus = host_cpu_count() };
	snprintf(h->sysfs, sizeof(h->sysfs), "%s", root);
	for (unsigned n = 0; n < 1024; n++) {
		_cleanup_free_ char *p = xasprintf("%s/devices/system/node/node%u", root, n);
		if (access(p, F_OK) < 0)
			break;
		h->numa_nodes++;
		h->memory += node_memory(root, n);
	}
	for (int size = HUGEPAGES_NONE + 1; size < HUGEPAGES_COUNT; size++) {
		_cleanup_free_ char *p = xasprintf("kernel/mm/hugepages/%s/free_hugepages", hugepage_sizes[size].sysfs);
		h->free_hugepages[size] = read_number(root, p);
	}
}

/* Adds one finding. */
void __attribute__((format(printf, 5, 6)))
finding(struct linter *l, const char *severity, const char *path, const char *fix, const char *fmt, ...)
{
	struct json_object *f = json_object_new_object();
	_cleanup_free_ char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	why = xvasprintf(fmt, ap);
	va_end(ap);
	json_object_object_add(f, "severity", json_object_new_string(severity));
	json_object_object_add(f, "file", json_object_new_string(origin_of(l->origins, path, l->file)));
	json_object_object_add(f, "path", json_object_new_string(path));
	json_object_object_add(f, "why", json_object_new_string(why));
	json_object_object_add(f, "fix", json_object_new_string(fix));
	json_object_array_add(l->findings, f);
}

/* Disks: emulated buses, scsi without iothread, thin images without discard, ssd without discard. */
static void lint_disks(struct linter *l, const struct vm_config *c)
{
	for (size_t i = 0; i < c->n_disks; i++) {
		const struct disk_config *d = &c->disks[i];
		_cleanup_free_ char *bus = xasprintf("disks[%zu].bus", i), *io = xasprintf("disks[%zu].iothread", i);
		_cleanup_free_ char *discard = xasprintf("disks[%zu].discard", i), *cache = xasprintf("disks[%zu].cache", i);

		if (d->bus == BUS_IDE)
			finding(l, "warning", bus, "use \"virtio-blk\" or \"scsi\" (\"sata\" for an installer without virtio drivers)",
				"IDE is fully emulated: one request at a time, much slower than virtio");
		if (d->bus == BUS_SCSI && !d->iothread)
			finding(l, "warning", io, "set \"iothread\": true (one controller and iothread per disk: virtio-scsi-single)",
				"without an iothread the disk's I/O runs in QEMU's main loop, competing with everything else");
		if (d->format == FORMAT_QCOW2 && !d->discard && !d->readonly)
			finding(l, "info", discard, "set \"discard\": true",
				"a thin qcow2 image only grows: the guest's TRIM never gives space back");
		if (d->ssd && !d->discard && !d->readonly)
			finding(l, "warning", discard, "set \"discard\": true",
				"the guest is told it has an SSD but its TRIM commands are dropped");
		if (d->cache == CACHE_UNSAFE)
			finding(l, "warning", cache, "use \"none\" (or \"writeback\")",
				"cache unsafe ignores flushes: a host crash loses the guest's committed writes");
	}
}

/* NICs: emulated models where virtio fits. */
static void lint_nics(struct linter *l, const struct vm_config *c)
{
	for (size_t i = 0; i < c->n_nics; i++) {
		_cleanup_free_ char *path = xasprintf("nics[%zu].model", i);
		if (c->nics[i].model != NIC_VIRTIO)
			finding(l, "warning", path, "use \"model\": \"virtio\" (Windows: install the virtio-win drivers)",
				"%s is an emulated NIC: far more CPU per packet than virtio-net", nic_model_names[c->nics[i].model].profile);
	}
}

/* Memory: huge pages not reserved, balloon with huge pages, more than the host has. */
static void lint_memory(struct linter *l, const struct vm_config *c, const struct host_facts *h)
{
	const struct hugepage_size *page = &hugepage_sizes[c->hugepages];
	uint64_t free_pages = h->free_hugepages[c->hugepages];

	/* With reserve, vmm raises the pool itself at start. */
	if (c->hugepages && !c->hugepages_reserve && free_pages * page->bytes < c->memory)
		finding(l, "error", "memory.hugepages",
			c->hugepages == HUGEPAGES_1G ? "reserve them at boot: hugepagesz=1G hugepages=N on the kernel command line"
						     : "reserve them: echo N > /proc/sys/vm/nr_hugepages, or let vmm: "
						       "{\"size\": \"2M\", \"reserve\": true}",
			"the VM needs %llu free %s huge pages, the host has %llu: it will not start",
			(unsigned long long)(c->memory / page->bytes), page->profile,
			(unsigned long long)free_pages);
	if (c->balloon && c->hugepages)
		finding(l, "warning", "memory.balloon", "set \"balloon\": false", LINT_BALLOON_HUGEPAGES);
	if (h->memory && c->memory > h->memory && !c->overcommit)
		finding(l, "warning", "memory.size", "lower memory.size",
			"the VM has more memory (%lluM) than the host (%lluM)", (unsigned long long)(c->memory >> 20),
			(unsigned long long)(h->memory >> 20));
	for (size_t i = 0; i < c->n_numa; i++) {
		_cleanup_free_ char *path = xasprintf("memory.numa[%zu].host_node", i);
		if (c->numa[i].host_node >= 0 && (unsigned)c->numa[i].host_node >= h->numa_nodes)
			finding(l, "error", path, "bind to an existing node (see /sys/devices/system/node)",
				"host node %d does not exist (the host has %u)", c->numa[i].host_node, h->numa_nodes);
	}
	if (c->n_numa > 1 && h->numa_nodes == 1)
		finding(l, "info", "memory.numa", "drop memory.numa unless the guest must see that layout",
			"%zu guest NUMA nodes on a host with one: the guest optimizes for a layout that does not exist",
			c->n_numa);
}

/* CPU and machine: emulated CPU model under KVM, i440fx with OVMF, overcommit, shared pins. */
static void lint_cpu(struct linter *l, const struct vm_config *c, const struct host_facts *h)
{
	if (c->cpu_model && c->accel != ACCEL_TCG && strcmp(c->cpu_model, "host") && strcmp(c->cpu_model, "max"))
		finding(l, "warning", "cpu.model", "remove cpu.model (vmm uses \"host\" under KVM) unless the VM must migrate",
			"'%s' hides the host CPU's features from the guest under KVM", c->cpu_model);
	if (c->machine == MACHINE_PC && c->firmware != FIRMWARE_BIOS)
		finding(l, "warning", "machine.type", "use \"type\": \"q35\"",
			"i440fx with OVMF: no PCIe, no Secure Boot, no SMM; OVMF is made for q35");
	if (c->hyperv && c->accel == ACCEL_TCG)
		finding(l, "info", "cpu.hyperv", "use KVM, or drop cpu.hyperv",
			"Hyper-V enlightenments need KVM; under TCG vmm leaves them out");
	if ((long)config_vcpus(c) > h->cpus)
		finding(l, "warning", "cpu", "give the VM at most as many vCPUs as the host has CPUs",
			"%u vCPUs on a host with %ld CPUs: vCPUs wait for each other", config_vcpus(c), h->cpus);
	for (size_t i = 0; i < c->pin.n; i++)
		for (size_t j = 0; j < c->emulator_pin.n; j++)
			if (c->pin.cpus[i] == c->emulator_pin.cpus[j]) {
				finding(l, "warning", "cpu.emulator_pin", "give emulator threads CPUs no vCPU is pinned to",
					"vCPU %zu and the emulator threads share host CPU %u", i, c->pin.cpus[i]);
				return;
			}
	if (c->pin.n && !c->emulator_pin.n)
		finding(l, "info", "cpu.emulator_pin", "set \"emulator_pin\" to CPUs outside cpu.pin",
			"vCPUs are pinned but QEMU's other threads may still run on their CPUs");
}

/* Marks the host CPUs of list in taken (of cpus entries); returns how many were not yet. */
static long mark_cpus(bool *taken, long cpus, const struct cpulist *list)
{
	long n = 0;

	for (size_t i = 0; i < list->n; i++)
		if (list->cpus[i] < (unsigned long)cpus && !taken[list->cpus[i]]) {
			taken[list->cpus[i]] = true;
			n++;
		}
	return n;
}

/* cpu.isolate: the pins must leave the host at least one CPU, else the start is refused. */
static void lint_isolate(struct linter *l, const struct vm_config *c, const struct host_facts *h)
{
	_cleanup_free_ bool *taken = NULL;
	long n;

	if (!c->isolate || h->cpus <= 0)
		return;
	taken = xzalloc((size_t)h->cpus * sizeof(*taken));
	n = mark_cpus(taken, h->cpus, &c->pin) + mark_cpus(taken, h->cpus, &c->emulator_pin);
	for (size_t d = 0; d < c->n_disks; d++)
		n += mark_cpus(taken, h->cpus, &c->disks[d].iothread_pin);
	if (n == h->cpus)
		finding(l, "error", "cpu.isolate", "leave the host at least one CPU outside the VM's pins",
			"the pins take all %ld host CPUs: nothing would be left to the host, and the start is refused",
			h->cpus);
}

/* The PCI class of a host device ("0x030000"), or -1 when the device is not there. */
static long pci_class(const struct host_facts *h, const char *bdf)
{
	_cleanup_free_ char *p = xasprintf("%s/bus/pci/devices/%s/class", h->sysfs, bdf);
	FILE *f = fopen(p, "re");
	long cls = -1;

	if (f) {
		if (fscanf(f, "%li", &cls) != 1)
			cls = -1;
		fclose(f);
	}
	return cls;
}

/* x_vga under UEFI: legacy VGA ranges only a BIOS boot uses. */
static void lint_x_vga(struct linter *l, const struct vm_config *c, size_t i)
{
	_cleanup_free_ char *path = xasprintf("passthrough[%zu].x_vga", i);

	if (c->passthrough[i].x_vga && c->firmware != FIRMWARE_BIOS)
		finding(l, "warning", path, "drop x_vga (OVMF drives the GPU through its UEFI GOP driver)",
			"x-vga gives the GPU the legacy VGA ranges, which only a BIOS boot uses: under OVMF they are "
			"useless and some GPUs then fail to initialize");
}

/* Windows: a Windows guest without a TPM. */
static void lint_windows(struct linter *l, const struct vm_config *c)
{
	if (c->os == OS_WINDOWS && !c->tpm)
		finding(l, "warning", "os", "set \"tpm\": true (the bundled windows profile does)",
			"Windows 11 does not install without a TPM 2.0, and BitLocker and Windows Hello need one");
}

/* Passthrough: devices that are not there, GPUs without q35 + UEFI or with an emulated
 * display left on, a balloon next to passthrough. */
static void lint_passthrough(struct linter *l, const struct vm_config *c)
{
	bool gpu = false;

	for (size_t i = 0; i < c->n_passthrough; i++) {
		_cleanup_free_ char *path = xasprintf("passthrough[%zu].host", i);
		long cls = pci_class(l->host, c->passthrough[i].host);
		lint_x_vga(l, c, i);
		if (cls < 0) {
			finding(l, "error", path, "check the address with vmm vfio list (or lspci -D)",
				"there is no PCI device %s on this host", c->passthrough[i].host);
			continue;
		}
		if ((cls >> 16) != 0x03)
			continue;
		gpu = true;
		if (c->machine != MACHINE_Q35 || c->firmware == FIRMWARE_BIOS)
			finding(l, "warning", path, "include the q35-ovmf profile",
				"a passed-through GPU wants q35 (PCIe) and UEFI (its option ROM, resizable BAR)");
	}
	if (gpu && c->display != DISPLAY_NONE)
		finding(l, "warning", "display", "set \"display\": \"none\" (the GPU is the display)",
			"an emulated VGA is left on next to the passed-through GPU: the guest sees two displays");
	if (c->n_passthrough && c->balloon)
		finding(l, "warning", "memory.balloon", "set \"balloon\": false", LINT_BALLOON_PASSTHROUGH);
}

/* Runs every check on a config and returns the findings. */
struct json_object *lint(const struct vm_config *c, const char *file, struct json_object *origins,
			 const struct host_facts *h)
{
	struct linter l = { .host = h, .findings = json_object_new_array(), .file = file, .origins = origins };

	lint_cpu(&l, c, h);
	lint_isolate(&l, c, h);
	lint_memory(&l, c, h);
	lint_disks(&l, c);
	lint_nics(&l, c);
	lint_passthrough(&l, c);
	lint_pins(&l, c);
	lint_vm(&l, c);
	lint_windows(&l, c);
	return l.findings;
}
