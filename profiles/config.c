#include "profiles/config.h"

#include <libgen.h>
#include <stdlib.h>
#include <string.h>

#include "profiles/config-walk.h"
#include "profiles/lint.h"
#include "vmm/base/rundir.h"
#include "vmm/base/strict.h"

/* migration.postcopy_passes: its default and its largest value. */
#define MIGRATION_PASSES_DEFAULT 5
#define MIGRATION_PASSES_MAX 100
/* The longest CPU model name accepted (QEMU's are far shorter). */
#define CPU_MODEL_MAX 64

static const char *const top_keys[] = { "name", "machine", "cpu", "memory", "boot", "disks", "nics", "passthrough",
					"display", "console", "console_log", "agent", "panic", "hotplug", "lifecycle",
					"qemu", "cloud_init", "looking_glass", "audio", "purpose", "os", "tpm", "usb", "input", "migration", NULL };
static const char *const machine_keys[] = { "type", "accel", "firmware", "pcie", NULL };
static const char *const cpu_keys[] = { "model", "sockets", "cores", "threads", "pin", "emulator_pin", "hyperv",
					"isolate", NULL };
static const char *const memory_keys[] = { "size", "hugepages", "prealloc", "balloon", "numa", "overcommit", "shared", NULL };
static const char *const balloon_keys[] = { "auto", "min", NULL };
static const char *const numa_keys[] = { "cpus", "size", "host_node", NULL };
static const char *const hugepages_keys[] = { "size", "reserve", NULL };
static const char *const boot_keys[] = { "kernel", "initrd", "append", "from", NULL };
static const char *const console_log_keys[] = { "max_size", "keep", NULL };
static const char *const lifecycle_keys[] = { "shutdown_timeout", "restart", "protected", NULL };
static const char *const qemu_keys[] = { "binary", "extra_args", "user", NULL };
static const char *const migration_keys[] = { "postcopy", "postcopy_passes", NULL };

char *config_file_name(const char *file)
{
	_cleanup_free_ char *copy = xstrdup(file);
	char *base = basename(copy), *dot = strrchr(base, '.');

	if (dot && dot != base)
		*dot = '\0';
	return xstrdup(base);
}

/* Validates the "name" of the VM, defaulting to the profile file's base name. */
static void walk_name(struct walk *w, struct json_object *json, struct vm_config *c)
{
	_cleanup_verr_ struct verr bad = { 0 };

	jr_string(&w->jr, json, "", "name", &c->name);
	if (!c->name) {
		c->name = config_file_name(w->jr.file);
		if (vm_name_check(c->name, &bad) < 0)
			jr_problem(&w->jr, "name", NULL, "missing, and the file name cannot stand in: %s", bad.lines[0]);
	} else if (vm_name_check(c->name, &bad) < 0)
		jr_problem(&w->jr, "name", NULL, "%s", bad.lines[0]);
}

/* The vCPUs the VM boots with. */
unsigned config_vcpus(const struct vm_config *c)
{
	return c->sockets * c->cores * c->threads;
}

/* Validates "cpu.pin": a host CPU per vCPU, as a list of numbers or one cpulist string, or
 * "auto"; null (as --set cpu.pin=null writes it) pins nothing. */
static void walk_pin(struct walk *w, struct json_object *cpu, struct vm_config *c)
{
	struct json_object *pin;

	if (!cpu || !json_object_object_get_ex(cpu, "pin", &pin) || !pin)
		return;
	if (json_object_is_type(pin, json_type_string) && !strcmp(json_object_get_string(pin), "auto"))
		c->pin_auto = true;
	else if (json_object_is_type(pin, json_type_string))
		cfg_get_host_cpus(w, cpu, "cpu", "pin", &c->pin);
	else if (json_object_is_type(pin, json_type_array)) {
		size_t n = json_object_array_length(pin);
		c->pin.cpus = xzalloc((n ? n : 1) * sizeof(*c->pin.cpus));
		for (size_t i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(pin, i);
			int64_t host_cpu;
			if (!json_int_in(e, 0, CPULIST_MAX_CPU, &host_cpu)) {
				_cleanup_free_ char *p = json_path_index("cpu.pin", i);
				jr_problem(&w->jr, p, NULL, "expected a host CPU number (0 to %d)", CPULIST_MAX_CPU);
				continue;
			}
			c->pin.cpus[c->pin.n++] = (unsigned)host_cpu;
		}
	} else
		jr_problem(&w->jr, "cpu.pin", NULL,
			   "expected a list of host CPUs, one per vCPU, a CPU list string such as \"2-9\", or \"auto\"");
}

/* Checks that cpu.pin names a host CPU for each vCPU the VM boots with, or for each it may have
 * (hotplug.max_cpus: hot-added vCPUs are pinned as they come). */
static void check_pin_count(struct walk *w, const struct vm_config *c)
{
	unsigned boot = config_vcpus(c);

	if (!c->pin.n || c->pin.n == boot || (c->max_cpus > boot && c->pin.n == c->max_cpus))
		return;
	if (c->max_cpus > boot)
		jr_problem(&w->jr, "cpu.pin", NULL, "pins %zu vCPUs, but the VM boots with %u (sockets x cores x threads) "
			   "and may have %u (hotplug.max_cpus): pin %u or %u", c->pin.n, boot, c->max_cpus, boot, c->max_cpus);
	else
		jr_problem(&w->jr, "cpu.pin", NULL, "pins %zu vCPUs, but the VM has %u (sockets x cores x threads)",
			   c->pin.n, boot);
}

/* Validates "memory.hugepages": "2M", "1G", false, or {"size": "2M" or "1G", "reserve": BOOL}. */
static void walk_hugepages(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	const char *key = NULL;
	struct json_object *v;

	if (!mem || !json_object_object_get_ex(mem, "hugepages", &v))
		return;
	if (json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v)) {
		c->hugepages = HUGEPAGES_NONE;
		c->hugepages_reserve = false;
		return;
	}
	if (json_object_is_type(v, json_type_object)) {
		jr_check_keys(&w->jr, v, "memory.hugepages", hugepages_keys);
		jr_bool(&w->jr, v, "memory.hugepages", "reserve", &c->hugepages_reserve);
		key = "size";
		if (!json_object_object_get_ex(v, key, &v))
			v = NULL;
	}
	for (int h = HUGEPAGES_NONE + 1; h < HUGEPAGES_COUNT; h++)
		if (v && json_object_is_type(v, json_type_string) &&
		    !strcmp(json_object_get_string(v), hugepage_sizes[h].profile)) {
			c->hugepages = h;
			return;
		}
	if (key)
		jr_problem(&w->jr, "memory.hugepages", key, "expected \"%s\" or \"%s\"",
			   hugepage_sizes[HUGEPAGES_2M].profile, hugepage_sizes[HUGEPAGES_1G].profile);
	else
		jr_problem(&w->jr, "memory.hugepages", NULL,
			   "expected \"%s\", \"%s\", false or {\"size\": \"%s\", \"reserve\": true}",
			   hugepage_sizes[HUGEPAGES_2M].profile, hugepage_sizes[HUGEPAGES_1G].profile,
			   hugepage_sizes[HUGEPAGES_2M].profile);
}

/* Validates one guest NUMA node. */
static void walk_numa_node(struct walk *w, struct json_object *n, const char *path, struct numa_config *node,
			   unsigned vcpus)
{
	struct json_object *cpus;
	unsigned host = 0;
	_cleanup_free_ char *cpath = json_path_key(path, "cpus");

	node->host_node = -1;
	if (!jr_element(&w->jr, n, path, numa_keys))
		return;
	cpus = jr_member(&w->jr, n, path, "cpus", json_type_string, "a list of guest vCPUs such as \"0-3\"");
	if (!cpus)
		jr_problem(&w->jr, cpath, NULL, "missing (the guest vCPUs of this node, such as \"0-3\")");
	else if (cpulist_parse(json_object_get_string(cpus), &node->cpus) < 0)
		jr_problem(&w->jr, cpath, NULL, "'%s' is not a CPU list (expected numbers and ranges such as \"0-3\")",
			   json_object_get_string(cpus));
	else
		cfg_check_cpus(w, cpath, &node->cpus, vcpus, "vCPU", "the VM");
	cfg_get_size(w, n, path, "size", MEMORY_MIN, &node->size);
	if (!json_object_object_get_ex(n, "size", NULL))
		jr_problem(&w->jr, path, "size", "missing (the memory of this node, such as \"4G\")");
	if (json_object_object_get_ex(n, "host_node", NULL)) {
		jr_uint(&w->jr, n, path, "host_node", 0, 1023, &host);
		node->host_node = (int)host;
	}
}

/* Validates "memory.numa": nodes whose sizes add up to memory.size and whose vCPUs cover each
 * possible vCPU (hotplug.max_cpus: the hot-pluggable ones too) once. */
static void walk_numa(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	struct json_object *numa = jr_member(&w->jr, mem, "memory", "numa", json_type_array, "a list of NUMA nodes");
	unsigned vcpus = c->max_cpus > config_vcpus(c) ? c->max_cpus : config_vcpus(c);
	_cleanup_free_ int *owner = NULL;
	uint64_t total = 0;

	if (!numa)
		return;
	c->n_numa = json_object_array_length(numa);
	c->numa = xzalloc((c->n_numa ? c->n_numa : 1) * sizeof(*c->numa));
	owner = xzalloc(vcpus * sizeof(*owner));
	for (size_t i = 0; i < c->n_numa; i++) {
		_cleanup_free_ char *path = json_path_index("memory.numa", i);
		walk_numa_node(w, json_object_array_get_idx(numa, i), path, &c->numa[i], vcpus);
		total += c->numa[i].size;
		for (size_t j = 0; j < c->numa[i].cpus.n; j++) {
			unsigned v = c->numa[i].cpus.cpus[j];
			if (v >= vcpus)
				break;
			if (owner[v]) {
				jr_problem(&w->jr, path, "cpus", "vCPU %u is already in memory.numa[%d]", v, owner[v] - 1);
				break;
			}
			owner[v] = (int)i + 1;
		}
	}
	if (c->n_numa && total != c->memory)
		jr_problem(&w->jr, "memory.numa", NULL, "the nodes add up to %lluM, but memory.size is %lluM",
			   (unsigned long long)(total / MIB), (unsigned long long)(c->memory / MIB));
	for (unsigned v = 0; c->n_numa && v < vcpus; v++)
		if (!owner[v]) {
			jr_problem(&w->jr, "memory.numa", NULL, "vCPU %u is in no node (every vCPU needs one%s)", v,
				   v >= config_vcpus(c) ? ", the hot-pluggable ones of hotplug.max_cpus too" : "");
			break;
		}
}

/* Checks that memory (and each NUMA node) is a whole number of huge pages. */
static void check_hugepage_sizes(struct walk *w, const struct vm_config *c)
{
	const struct hugepage_size *page = &hugepage_sizes[c->hugepages];

	if (c->hugepages == HUGEPAGES_NONE)
		return;
	if (c->memory % page->bytes)
		jr_problem(&w->jr, "memory.size", NULL, "%lluM is not a whole number of %s huge pages",
			   (unsigned long long)(c->memory / MIB), page->profile);
	for (size_t i = 0; i < c->n_numa; i++)
		if (c->numa[i].size % page->bytes) {
			_cleanup_free_ char *p = json_path_index("memory.numa", i);
			jr_problem(&w->jr, p, "size", "%lluM is not a whole number of %s huge pages",
				   (unsigned long long)(c->numa[i].size / MIB), page->profile);
		}
}

/* Validates "memory.balloon" given as {"auto": true, "min": SIZE}: a balloon the supervisor
 * moves with the host's memory pressure, never below min. */
static void walk_auto_balloon(struct walk *w, struct json_object *b, struct vm_config *c)
{
	jr_check_keys(&w->jr, b, "memory.balloon", balloon_keys);
	jr_bool(&w->jr, b, "memory.balloon", "auto", &c->balloon_auto);
	cfg_get_size(w, b, "memory.balloon", "min", MEMORY_MIN, &c->balloon_min);
	c->balloon = true;
	if (!c->balloon_auto)
		jr_problem(&w->jr, "memory.balloon", "auto", "expected true (or write \"balloon\": true for a balloon moved "
			   "by hand)");
	else if (!c->balloon_min)
		jr_problem(&w->jr, "memory.balloon", "min", "missing (the least memory the automatic balloon leaves the "
			   "guest, such as \"1G\")");
}

/* Checks what an automatic balloon needs: min within memory.size, and memory it can give back
 * (not with huge pages or passthrough: lint's words). */
static void check_auto_balloon(struct walk *w, const struct vm_config *c)
{
	if (!c->balloon_auto)
		return;
	if (c->balloon_min > c->memory)
		jr_problem(&w->jr, "memory.balloon", "min", "%lluM is more than memory.size (%lluM)",
			   (unsigned long long)(c->balloon_min / MIB), (unsigned long long)(c->memory / MIB));
	if (c->hugepages)
		jr_problem(&w->jr, "memory.balloon", "auto", "%s (memory.hugepages)", LINT_BALLOON_HUGEPAGES);
	if (c->n_passthrough)
		jr_problem(&w->jr, "memory.balloon", "auto", "%s (passthrough)", LINT_BALLOON_PASSTHROUGH);
}

/* Validates "memory" (the NUMA nodes come later, once the vCPUs are known). */
static void walk_memory(struct walk *w, struct json_object *mem, struct vm_config *c)
{
	cfg_get_size(w, mem, "memory", "size", MEMORY_MIN, &c->memory);
	walk_hugepages(w, mem, c);
	jr_bool(&w->jr, mem, "memory", "prealloc", &c->prealloc);
	if (mem && json_object_is_type(json_object_object_get(mem, "balloon"), json_type_object))
		walk_auto_balloon(w, json_object_object_get(mem, "balloon"), c);
	else
		jr_bool(&w->jr, mem, "memory", "balloon", &c->balloon);
	jr_bool(&w->jr, mem, "memory", "overcommit", &c->overcommit);
	jr_bool(&w->jr, mem, "memory", "shared", &c->shared_ram);
	if (c->hugepages && !c->shared_ram && mem && json_object_object_get_ex(mem, "shared", NULL))
		jr_problem(&w->jr, "memory", "shared", "huge pages are always shared (on a memfd the supervisor "
			   "holds: already allocated and never merged, sharing costs them nothing)");
}

/* Checks that shared RAM (memory.shared) is the one backend it can be. */
static void check_shared_ram(struct walk *w, const struct vm_config *c)
{
	if (c->shared_ram && c->n_numa)
		jr_problem(&w->jr, "memory", "shared", "not with memory.numa (each node keeps its own backend)");
}

/* Validates "qemu": the binary and extra arguments. */
static void walk_qemu(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *q = jr_object(&w->jr, json, "", "qemu", qemu_keys);
	struct json_object *extra = jr_member(&w->jr, q, "qemu", "extra_args", json_type_array, "a list of strings");
	size_t n;

	jr_string(&w->jr, q, "qemu", "binary", &c->qemu_binary);
	if (c->qemu_binary && !*c->qemu_binary)
		jr_problem(&w->jr, "qemu.binary", NULL, "expected a program name or path, not an empty string");
	jr_string(&w->jr, q, "qemu", "user", &c->qemu_user);
	if (c->qemu_user && !*c->qemu_user)
		jr_problem(&w->jr, "qemu.user", NULL, "expected a user name, not an empty string");
	if (!extra)
		return;
	n = json_object_array_length(extra);
	c->extra_args = xzalloc((n + 1) * sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(extra, i);
		if (!json_object_is_type(a, json_type_string)) {
			_cleanup_free_ char *p = json_path_index("qemu.extra_args", i);
			jr_problem(&w->jr, p, NULL, "expected a string");
			c->extra_args[i] = xstrdup("");
		} else
			c->extra_args[i] = xstrdup(json_object_get_string(a));
	}
}

/* Validates "machine": type, accelerator, firmware, where PCIe devices go. */
static void walk_machine(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *machine = jr_object(&w->jr, json, "", "machine", machine_keys);

	cfg_get_enum(w, machine, "machine", "type", machine_names, c->machine);
	cfg_get_enum(w, machine, "machine", "accel", accel_names, c->accel);
	cfg_get_enum(w, machine, "machine", "firmware", firmware_names, c->firmware);
	cfg_get_enum(w, machine, "machine", "pcie", pcie_names, c->pcie);
	if (c->pcie == PCIE_ROOT_BUS && c->machine != MACHINE_Q35)
		jr_problem(&w->jr, "machine.pcie", NULL, "'pcie.0' needs machine.type q35 (pc has no PCIe)");
}

/* Validates "cpu": model, topology, pinning, Hyper-V. */
static void walk_cpu(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *cpu = jr_object(&w->jr, json, "", "cpu", cpu_keys);

	jr_string(&w->jr, cpu, "cpu", "model", &c->cpu_model);
	if (c->cpu_model && !cfg_valid_name(c->cpu_model, CPU_MODEL_MAX))
		jr_problem(&w->jr, "cpu.model", NULL, "'%s' is not a CPU model name (expected up to %d letters, digits, "
			   "'-', '_' or '.', such as \"host\" or \"Skylake-Client-v4\")", c->cpu_model, CPU_MODEL_MAX);
	jr_uint(&w->jr, cpu, "cpu", "sockets", 1, 64, &c->sockets);
	jr_uint(&w->jr, cpu, "cpu", "cores", 1, 256, &c->cores);
	jr_uint(&w->jr, cpu, "cpu", "threads", 1, 8, &c->threads);
	if (config_vcpus(c) > VCPUS_MAX)
		jr_problem(&w->jr, "cpu", NULL, "%u sockets x %u cores x %u threads is more than %u vCPUs", c->sockets,
			   c->cores, c->threads, VCPUS_MAX);
	walk_pin(w, cpu, c);
	cfg_get_host_cpus(w, cpu, "cpu", "emulator_pin", &c->emulator_pin);
	jr_bool(&w->jr, cpu, "cpu", "hyperv", &c->hyperv);
	jr_bool(&w->jr, cpu, "cpu", "isolate", &c->isolate);
}

/* cpu.isolate keeps the host off the VM's CPUs: those its vCPU, iothread and emulator pins
 * name (cpu.pin "auto": those the plan picks). */
static void check_isolate(struct walk *w, const struct vm_config *c)
{
	bool pinned = c->pin.n || c->emulator_pin.n || c->pin_auto;

	for (size_t i = 0; i < c->n_disks; i++)
		pinned |= c->disks[i].iothread_pin.n > 0;
	if (c->isolate && !pinned)
		jr_problem(&w->jr, "cpu.isolate", NULL,
			   "needs the VM's CPUs: pin its vCPUs (cpu.pin, or \"auto\"), emulator threads (cpu.emulator_pin) or a "
			   "disk's iothread (iothread_pin)");
}

/* Validates "boot": a kernel, its initrd and command line. */
static void walk_boot(struct walk *w, struct json_object *boot, struct vm_config *c)
{
	cfg_get_path(w, boot, "boot", "kernel", &c->kernel);
	cfg_get_path(w, boot, "boot", "initrd", &c->initrd);
	jr_string(&w->jr, boot, "boot", "append", &c->append);
	if ((c->initrd || c->append) && !c->kernel)
		jr_problem(&w->jr, "boot.kernel", NULL, "missing (boot.initrd and boot.append need a kernel)");
}

/* Validates "lifecycle": how the VM stops and restarts. */
static void walk_lifecycle(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *life = jr_object(&w->jr, json, "", "lifecycle", lifecycle_keys);

	jr_uint(&w->jr, life, "lifecycle", "shutdown_timeout", 1, 3600, &c->shutdown_timeout);
	cfg_get_enum(w, life, "lifecycle", "restart", restart_names, c->restart);
	jr_bool(&w->jr, life, "lifecycle", "protected", &c->protected);
}

/* Validates "migration": post-copy off, or auto after how many passes without convergence. */
static void walk_migration(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *mig = jr_object(&w->jr, json, "", "migration", migration_keys);

	cfg_get_enum(w, mig, "migration", "postcopy", postcopy_names, c->postcopy);
	jr_uint(&w->jr, mig, "migration", "postcopy_passes", 1, MIGRATION_PASSES_MAX, &c->postcopy_passes);
}

/* Validates "console_log": how much the supervisor's console.log holds before it is rotated,
 * and how many rotated copies it keeps. */
static void walk_console_log(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *log = jr_object(&w->jr, json, "", "console_log", console_log_keys);

	cfg_get_size(w, log, "console_log", "max_size", MIB, &c->console_log_max);
	jr_uint(&w->jr, log, "console_log", "keep", 0, CONSOLE_LOG_KEEP_MAX, &c->console_log_keep);
}

/* Walks a resolved profile into a vm_config, reporting every problem in one pass. */
int config_from_json(struct json_object *json, const char *file, struct json_object *origins,
		     struct vm_config *c, struct verr *err)
{
	struct walk w = { .jr = { .err = err, .file = file, .origins = origins } };
	struct json_object *mem, *boot;
	size_t before = err->n;

	*c = (struct vm_config){
		.machine = MACHINE_Q35, .accel = ACCEL_AUTO, .firmware = FIRMWARE_BIOS,
		.sockets = 1, .cores = 1, .threads = 1, .memory = 512 * MIB, .shutdown_timeout = 60,
		.postcopy_passes = MIGRATION_PASSES_DEFAULT,
		.serial_console = true, .console_log_max = 8 * MIB, .console_log_keep = 1, .panic = true,
	};

	jr_check_keys(&w.jr, json, "", top_keys);
	walk_name(&w, json, c);
	cfg_get_enum(&w, json, "", "purpose", purpose_names, c->purpose);
	walk_machine(&w, json, c);
	walk_cpu(&w, json, c);

	mem = jr_object(&w.jr, json, "", "memory", memory_keys);
	walk_memory(&w, mem, c);

	boot = jr_object(&w.jr, json, "", "boot", boot_keys);
	walk_boot(&w, boot, c);

	cfg_walk_devices(&w, json, c);
	/* After hotplug: the nodes hold the vCPUs that may be plugged too. */
	if (config_vcpus(c) <= VCPUS_MAX)
		walk_numa(&w, mem, c);
	check_hugepage_sizes(&w, c);
	check_shared_ram(&w, c);
	cfg_walk_platform(&w, json, c);
	check_pin_count(&w, c);
	check_auto_balloon(&w, c);
	check_isolate(&w, c);
	if (c->firmware == FIRMWARE_OVMF_SECBOOT && c->machine != MACHINE_Q35)
		jr_problem(&w.jr, "machine.firmware", NULL, "'ovmf-secboot' needs machine.type q35 (secure boot needs SMM)");
	walk_console_log(&w, json, c);
	walk_lifecycle(&w, json, c);
	walk_qemu(&w, json, c);
	walk_migration(&w, json, c);
	cfg_walk_cloud_init(&w, json, c);
	cfg_walk_desktop(&w, json, c);

	if (!c->kernel && c->n_disks == 0 && !json_object_object_get_ex(boot, "kernel", NULL) &&
	    !json_object_object_get_ex(json, "disks", NULL))
		jr_problem(&w.jr, "boot", NULL, "nothing to boot (expected boot.kernel or at least one disk)");

	if (err->n > before) {
		config_free(c);
		return -1;
	}
	return 0;
}

/* Frees what one disk holds and empties it. */
void config_disk_free(struct disk_config *d)
{
	free(d->id);
	free(d->file);
	free(d->serial);
	cpulist_free(&d->iothread_pin);
	*d = (struct disk_config){ 0 };
}

/* Frees what one NIC holds and empties it. */
void config_nic_free(struct nic_config *n)
{
	free(n->id);
	free(n->bridge);
	free(n->ifname);
	free(n->mac);
	*n = (struct nic_config){ 0 };
}

/* Frees a config and empties it. */
void config_free(struct vm_config *c)
{
	free(c->name);
	free(c->cpu_model);
	free(c->kernel);
	free(c->initrd);
	free(c->append);
	free(c->lg_path);
	free(c->lg_user);
	for (size_t i = 0; i < c->n_disks; i++)
		config_disk_free(&c->disks[i]);
	free(c->disks);
	for (size_t i = 0; i < c->n_nics; i++)
		config_nic_free(&c->nics[i]);
	free(c->nics);
	for (size_t i = 0; i < c->n_passthrough; i++) {
		free(c->passthrough[i].host);
		free(c->passthrough[i].rom);
	}
	free(c->passthrough);
	for (size_t i = 0; i < c->n_numa; i++)
		cpulist_free(&c->numa[i].cpus);
	free(c->numa);
	cpulist_free(&c->pin);
	cpulist_free(&c->emulator_pin);
	free(c->qemu_binary);
	free(c->qemu_user);
	for (size_t i = 0; c->extra_args && c->extra_args[i]; i++)
		free(c->extra_args[i]);
	free(c->extra_args);
	config_platform_free(c);
	cloud_init_free(c->cloud_init);
	*c = (struct vm_config){ 0 };
}
