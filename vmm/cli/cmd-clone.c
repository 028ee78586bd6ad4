/* vmm clone SRC NEW [--full]: a new VM made of SRC. Its profile, VMM_DATA_DIR/NEW/profile.json
 * (found by name like any profile: `vmm start NEW`), includes SRC's and says only what differs:
 * the name, its disks (thin qcow2 overlays on SRC's in its data directory, or with --full
 * standalone copies; read-only disks are shared), no fixed MACs and its own host name for
 * cloud-init. Everything else of a VM's identity is made on its first start and belongs to its
 * data directory: the UUID and MACs derived from it, the UEFI vars copied from the firmware's
 * template, the cloud-init instance id (from the UUID). A thin clone needs a template (its disks
 * never change: vmm template SRC); a copy needs SRC stopped. A failure leaves nothing. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "profiles/profile.h"
#include "vmm/base/host.h"
#include "vmm/base/rundir.h"
#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/interrupt.h"
#include "vmm/cli/vmdisks.h"
#include "vmm/launch/qemuimg.h"
#include "vmm/launch/vmdata.h"

/* Refuses a name that a VM or profile has. */
static int check_new_name(const char *name, struct verr *err)
{
	_cleanup_verr_ struct verr none = { 0 };
	_cleanup_free_ char *dir = vm_data_path(name), *found = NULL;
	pid_t pid;

	if (vm_name_check(name, err) < 0)
		return -1;
	if (access(dir, F_OK) == 0)
		return verr_set(err, 0, "the name '%s' is in use: VM '%s' has data in '%s'", name, name, dir);
	if ((found = profile_find(name, &none)))
		return verr_set(err, 0, "the name '%s' is in use: the profile '%s' has it", name, found);
	if ((pid = vm_disks_running(name)))
		return verr_set(err, 0, "the name '%s' is in use: its QEMU runs (pid %d)", name, pid);
	return 0;
}

/* Makes NEW's image of SRC's disk d in dir; its entry of the clone's profile in *entry. */
static int clone_disk(const struct disk_config *d, const char *dir, bool full, struct json_object **entry,
		      struct verr *err)
{
	const char *fmt = format_names[d->format].qemu;
	_cleanup_free_ char *real = realpath(d->file, NULL);
	_cleanup_free_ char *file = xasprintf("%s/%s.%s", dir, d->id, full && d->format == FORMAT_RAW ? "img" : "qcow2");

	*entry = NULL;
	if (d->readonly)
		return 0; /* shared: an installer image, a seed */
	if (!real && !d->create)
		return verr_set(err, errno, "disk '%s': '%s'", d->id, d->file);
	if (real && (full ? qemuimg_convert(real, fmt, file, fmt, err) : qemuimg_create(file, "qcow2", 0, real, fmt, err)) < 0)
		return verr_wrap(err, "disk '%s'", d->id), -1;
	*entry = json_object_new_object();
	json_object_object_add(*entry, "id", json_object_new_string(d->id));
	json_object_object_add(*entry, "file", json_object_new_string(file));
	json_object_object_add(*entry, "format", json_object_new_string(full ? fmt : "qcow2"));
	return 0;
}

/* The clone's profile: SRC's with what differs. */
static struct json_object *clone_profile(const struct vm_disks *src, const char *name, struct json_object *disks)
{
	struct json_object *p = json_object_new_object(), *inc = json_object_new_array(), *nics = NULL;

	json_object_array_add(inc, json_object_new_string(src->profile));
	json_object_object_add(p, "include", inc);
	json_object_object_add(p, "name", json_object_new_string(name));
	if (json_object_array_length(disks))
		json_object_object_add(p, "disks", json_object_get(disks));
	for (size_t i = 0; i < src->config.n_nics; i++) {
		struct json_object *n;
		if (!src->config.nics[i].mac)
			continue;
		/* A MAC SRC fixes would be on two VMs: null drops it, the clone's identity gives one. */
		if (!nics)
			nics = json_object_new_array();
		n = json_object_new_object();
		json_object_object_add(n, "id", json_object_new_string(src->config.nics[i].id));
		json_object_object_add(n, "mac", NULL);
		json_object_array_add(nics, n);
	}
	if (nics)
		json_object_object_add(p, "nics", nics);
	if (src->config.cloud_init && src->config.cloud_init->hostname) {
		struct json_object *ci = json_object_new_object();
		json_object_object_add(ci, "hostname", json_object_new_string(name));
		json_object_object_add(p, "cloud_init", ci);
	}
	return p;
}

/* nftw callback: removes a half-made clone's file. */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	return remove(path);
}

/* The verb's handler. */
static int cmd_clone(const struct cmd_args *args, struct verr *err)
{
	const char *src_name, *name = args->argv[1];
	bool full = args_has(args, "full");
	_cleanup_free_ char *dir = NULL, *file = NULL, *data = data_dir();
	struct json_object *disks, *profile;
	struct interrupt_guard guard;
	struct vm_disks src;
	pid_t pid;
	int r = 0;

	if (check_new_name(name, err) < 0 || vm_disks_load(args->argv[0], &src, err) < 0)
		return -1;
	src_name = src.config.name;
	if (!vm_is_template(src_name) && !full)
		r = verr_set(err, 0, "VM '%s' is not a template: a thin clone's disks would change under it when '%s' "
			     "runs (make it one: vmm template %s; or copy its disks: --full)", src_name, src_name, src_name);
	else if (!vm_is_template(src_name) && (pid = vm_disks_running(src_name)))
		r = verr_set(err, 0, "VM '%s' runs (QEMU pid %d): stop it to copy its disks", src_name, pid);
	else if (!vm_is_template(src_name))
		r = vm_refuse_layers(src_name, err);
	dir = vm_data_path(name);
	if (r == 0 && (mkdir_parents(data, 0700) < 0 || mkdir(dir, 0700) < 0))
		r = verr_set(err, errno, "cannot create the VM's data directory '%s'", dir);
	if (r < 0) {
		vm_disks_free(&src);
		return -1;
	}
	interrupt_guard_begin(&guard); /* Ctrl-C undoes the clone */
	disks = json_object_new_array();
	for (size_t i = 0; r == 0 && i < src.config.n_disks; i++) {
		struct json_object *entry;
		r = clone_disk(&src.config.disks[i], dir, full, &entry, err);
		if (entry)
			json_object_array_add(disks, entry);
		if (interrupt_guard_hit()) {
			verr_clear(err);
			r = verr_set(err, 0, "the clone '%s' was interrupted: nothing of it is left", name);
		}
	}
	if (r == 0) {
		profile = clone_profile(&src, name, disks);
		file = xasprintf("%s/%s", dir, VM_PROFILE_FILE);
		r = write_text_file(file, cmd_json_text(profile, JSON_PRETTY)) < 0 ?
			    verr_set(err, errno, "cannot write '%s'", file) : 0;
		json_object_put(profile);
	}
	json_object_put(disks);
	interrupt_guard_end(&guard);
	if (r < 0)
		nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	else
		printf("%s: a %s of %s (its profile: %s; start it with 'vmm start %s')\n", name,
		       full ? "copy" : "thin clone", src_name, file, name);
	vm_disks_free(&src);
	return r;
}

const struct cmd_entry cmd_clone_entry = {
	.name = "clone",
	.usage = "SRC NEW [--full]",
	.help = "make a VM of a template (thin qcow2 overlays) or a copy of a stopped VM (--full), with its own identity",
	.args = { .options = "full", .lower = 2, .upper = 2 },
	.exec = cmd_clone,
};
