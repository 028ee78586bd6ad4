/* vmm destroy NAME [--yes]: deletes what vmm keeps of a VM, its data directory VMM_DATA_DIR/NAME
 * (a clone's profile and overlays, the identity, UEFI vars, TPM state, the cloud-init seed,
 * snapshot layers, images made for "create" disks there), and nothing else: a disk image its
 * profile names that vmm did not make stays (and a template's bases get their modes back).
 * Refused while the VM runs, when it is protected, and when other VMs depend on it (their
 * overlays have its disks in their backing chains, or their profiles include its). Without
 * --yes it says what it would delete and exits 1. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "profiles/profile.h"
#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/vmdisks.h"
#include "vmm/launch/vmdata.h"

/* The real paths of the VM's disk files and of the images in its data directory: what another
 * VM's overlay must not have below it. The disk files in the data directory that vmm did not
 * make (no "create", and no profile of vmm's: the user put them there) go to keep. */
static void vm_files(const struct vm_disks *vm, bool made_profile, struct strv *files, struct strv *keep)
{
	DIR *d = opendir(vm->data);
	struct dirent *e;
	size_t n = strlen(vm->data);

	for (size_t i = 0; i < vm->config.n_disks; i++) {
		const struct disk_config *disk = &vm->config.disks[i];
		char *real = realpath(disk->file, NULL);
		if (!real)
			continue;
		strv_push(files, real);
		if (!strncmp(real, vm->data, n) && real[n] == '/' && !disk->create && !made_profile)
			strv_push(keep, real);
		free(real);
	}
	while (d && (e = readdir(d))) {
		_cleanup_free_ char *f = xasprintf("%s/%s", vm->data, e->d_name), *real = realpath(f, NULL);
		if (e->d_name[0] != '.' && real)
			strv_push(files, real);
	}
	if (d)
		closedir(d);
}

/* True when list holds s. */
static bool listed(const struct strv *list, const char *s)
{
	for (size_t i = 0; i < list->n; i++)
		if (!strcmp(list->v[i], s))
			return true;
	return false;
}

/* Gives a template's bases the modes they had (from template.json). */
static void restore_modes(const char *data)
{
	_cleanup_verr_ struct verr ignored = { 0 };
	_cleanup_free_ char *file = xasprintf("%s/%s", data, TEMPLATE_FILE);
	struct json_object *rec = profile_read(file, &ignored), *disks;

	if (rec && json_object_object_get_ex(rec, "disks", &disks))
		for (size_t i = 0; i < json_object_array_length(disks); i++) {
			struct json_object *d = json_object_array_get_idx(disks, i), *f, *m;
			if (json_object_object_get_ex(d, "file", &f) && json_object_object_get_ex(d, "mode", &m))
				chmod(json_object_get_string(f), (mode_t)json_object_get_int(m) & 07777);
		}
	json_object_put(rec);
}

/* Lists (or, with yes, deletes) the files of dir not in keep, depth first; the directories that
 * end up empty go too. Returns 0, or -1 with err on the first file that cannot go. */
static int sweep(const char *dir, const struct strv *keep, bool yes, struct verr *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int r = 0;

	if (!d)
		return errno == ENOENT ? 0 : verr_set(err, errno, "cannot read '%s'", dir);
	while (r == 0 && (e = readdir(d))) {
		_cleanup_free_ char *f = NULL;
		struct stat st;
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		f = xasprintf("%s/%s", dir, e->d_name);
		if (lstat(f, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			r = sweep(f, keep, yes, err);
			continue;
		}
		if (listed(keep, f))
			continue;
		printf("%s %s\n", yes ? "deleted" : "would delete", f);
		if (yes && unlink(f) < 0)
			r = verr_set(err, errno, "cannot delete '%s'", f);
	}
	closedir(d);
	if (r == 0 && yes && rmdir(dir) == 0)
		printf("deleted %s/\n", dir);
	return r;
}

/* The verb's handler. */
static int cmd_destroy(const struct cmd_args *args, struct verr *err)
{
	const char *name;
	bool yes = args_has(args, "yes");
	_cleanup_free_ char *made = NULL;
	struct strv files = { 0 }, keep = { 0 }, who = { 0 };
	struct vm_disks vm;
	pid_t pid;
	int r = 0;

	if (vm_disks_load(args->argv[0], &vm, err) < 0)
		return -1;
	name = vm.config.name;
	made = xasprintf("%s/%s", vm.data, VM_PROFILE_FILE);
	if ((pid = vm_disks_running(name)))
		r = verr_set(err, 0, "VM '%s' runs (QEMU pid %d): stop it first (vmm stop %s)", name, pid, name);
	else if (vm.config.protected)
		r = verr_set(err, 0, "VM '%s' is protected (lifecycle.protected in '%s'): set it to false to destroy it",
			     name, vm.profile);
	if (r == 0) {
		vm_files(&vm, access(made, F_OK) == 0, &files, &keep);
		r = vm_disks_dependents(name, &files, vm.profile, &who, err);
	}
	if (r == 0 && who.n) {
		r = verr_set(err, 0, "VM '%s' has VMs that depend on it (destroy them first):", name);
		for (size_t i = 0; i < who.n; i++)
			verr_set(err, 0, "  %s", who.v[i]);
	}
	if (r == 0) {
		for (size_t i = 0; i < keep.n; i++)
			printf("keep %s (a disk image its profile names, not made by vmm)\n", keep.v[i]);
		if (yes)
			restore_modes(vm.data);
		r = sweep(vm.data, &keep, yes, err);
	}
	if (r == 0 && !yes)
		r = verr_set(err, 0, "nothing was deleted: 'vmm destroy %s --yes' deletes it", name);
	strv_free(&files);
	strv_free(&keep);
	strv_free(&who);
	vm_disks_free(&vm);
	return r;
}

const struct cmd_entry cmd_destroy_entry = {
	.name = "destroy",
	.usage = "NAME [--yes]",
	.help = "delete a stopped VM's data (overlays, identity, UEFI vars, TPM, seed); without --yes, say what would go",
	.args = { .options = "yes", .lower = 1, .upper = 1 },
	.exec = cmd_destroy,
};
