/* vmm template NAME: a stopped VM becomes a template. Its disks become the read-only bases of
 * its clones (write permission taken away: chmod a-w), recorded with their former modes in
 * VMM_DATA_DIR/NAME/template.json, and it never starts again (vmm/launch/vmdata.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "vmm/base/util.h"
#include "vmm/cli/cmd.h"
#include "vmm/cli/vmdisks.h"
#include "vmm/launch/vmdata.h"

/* Writes the record (consumed) to file atomically. */
static int write_record(const char *file, struct json_object *rec, struct verr *err)
{
	int r = 0;

	if (write_text_file(file, cmd_json_text(rec, JSON_PRETTY)) < 0)
		r = verr_set(err, errno, "cannot write '%s'", file);
	json_object_put(rec);
	return r;
}

/* The verb's handler. */
static int cmd_template(const struct cmd_args *args, struct verr *err)
{
	const char *name;
	_cleanup_free_ char *file = NULL;
	struct json_object *rec, *disks;
	struct vm_disks vm;
	pid_t pid;
	int r = 0;

	if (vm_disks_load(args->argv[0], &vm, err) < 0)
		return -1;
	name = vm.config.name;
	file = xasprintf("%s/%s", vm.data, TEMPLATE_FILE);
	if (vm_is_template(name))
		r = verr_set(err, 0, "VM '%s' is a template already", name);
	else if ((pid = vm_disks_running(name)))
		r = verr_set(err, 0, "VM '%s' runs (QEMU pid %d): stop it first (vmm stop %s)", name, pid, name);
	else
		r = vm_refuse_layers(name, err);
	for (size_t i = 0; r == 0 && i < vm.config.n_disks; i++)
		if (access(vm.config.disks[i].file, F_OK) < 0)
			r = verr_set(err, errno, "disk '%s': '%s'", vm.config.disks[i].id, vm.config.disks[i].file);
	if (r == 0 && mkdir_parents(vm.data, 0700) < 0)
		r = verr_set(err, errno, "cannot create the VM's data directory '%s'", vm.data);
	if (r < 0) {
		vm_disks_free(&vm);
		return -1;
	}
	/* The record first: a template whose disks are not all read-only yet is still refused a start. */
	rec = json_object_new_object();
	disks = json_object_new_array();
	for (size_t i = 0; i < vm.config.n_disks; i++) {
		struct json_object *d = json_object_new_object();
		struct stat st;
		_cleanup_free_ char *real = realpath(vm.config.disks[i].file, NULL);
		stat(vm.config.disks[i].file, &st);
		json_object_object_add(d, "id", json_object_new_string(vm.config.disks[i].id));
		json_object_object_add(d, "file", json_object_new_string(real ? real : vm.config.disks[i].file));
		json_object_object_add(d, "mode", json_object_new_int((int)(st.st_mode & 07777)));
		json_object_array_add(disks, d);
	}
	json_object_object_add(rec, "disks", disks);
	r = write_record(file, rec, err);
	for (size_t i = 0; r == 0 && i < vm.config.n_disks; i++) {
		struct stat st;
		const char *f = vm.config.disks[i].file;
		if (stat(f, &st) < 0 || chmod(f, st.st_mode & 07555) < 0)
			r = verr_set(err, errno, "disk '%s': cannot make '%s' read-only", vm.config.disks[i].id, f);
	}
	if (r == 0)
		printf("%s is a template: its disks are read-only; make VMs of it with 'vmm clone %s NEW'\n", name, name);
	vm_disks_free(&vm);
	return r;
}

const struct cmd_entry cmd_template_entry = {
	.name = "template",
	.usage = "NAME",
	.help = "make a stopped VM a template: its disks become read-only bases of clones, and it never starts",
	.args = { .lower = 1, .upper = 1 },
	.exec = cmd_template,
};
