/* Unit tests of one device validated alone (config_disk_from_json, config_nic_from_json: what
 * vmm add checks), with the schema of a profile's disks[] and nics[] elements. */
#include <string.h>

#include "profiles/config.h"
#include "tap.h"
#include "vmm/base/util.h"

/* Validates the disk JSON text; returns the result, the first problem in *line (or ""). */
static int disk(const char *text, struct disk_config *d, char *line, size_t n)
{
	struct json_object *j = json_tokener_parse(text);
	_cleanup_verr_ struct verr err = { 0 };
	int r = config_disk_from_json(j, "disk", d, &err);

	snprintf(line, n, "%s", err.n ? err.lines[0] : "");
	json_object_put(j);
	return r;
}

/* A valid disk gets the profile's defaults, its serial from its id. */
static void test_valid_disk(void)
{
	struct disk_config d;
	char line[256];

	ok(disk("{\"id\": \"data1\", \"file\": \"/x.img\", \"format\": \"raw\", \"bus\": \"scsi\", \"iothread\": true}",
		&d, line, sizeof(line)) == 0, "a valid disk passes: %s", line);
	ok(d.bus == BUS_SCSI && d.iothread && d.cache == CACHE_NONE && !strcmp(d.serial, "data1"),
	   "its bus and iothread are read, cache defaults to none, the serial to the id");
	config_disk_free(&d);
	ok(disk("{\"id\": \"a-very-long-disk-id-x\", \"file\": \"/x.img\", \"format\": \"qcow2\"}", &d, line,
		sizeof(line)) == 0 && !strcmp(d.serial, "a-very-long-disk-id-"), "a long id's serial is its first 20 characters");
	config_disk_free(&d);
}

/* Each mistake is named by its key, as in a profile. */
static void test_bad_disk(void)
{
	struct disk_config d;
	char line[256];

	ok(disk("{\"id\": \"d\", \"file\": \"/x\", \"format\": \"raw\", \"cahce\": \"none\"}", &d, line, sizeof(line)) < 0 &&
	   !strcmp(line, "disk: cahce: unknown key (did you mean 'cache'?)"), "an unknown key: %s", line);
	ok(disk("{\"id\": \"d\", \"file\": \"/x\"}", &d, line, sizeof(line)) < 0 && !strncmp(line, "disk: format: missing", 21),
	   "a missing format: %s", line);
	ok(disk("{\"id\": \"d\", \"file\": \"/x\", \"format\": \"raw\", \"bus\": \"usb\"}", &d, line, sizeof(line)) < 0 &&
	   !strncmp(line, "disk: bus: ", 11), "a bad bus: %s", line);
	ok(disk("{\"file\": \"/x\", \"format\": \"raw\"}", &d, line, sizeof(line)) < 0 && !strncmp(line, "disk: id: missing", 17),
	   "a missing id: %s", line);
	ok(disk("[1]", &d, line, sizeof(line)) < 0 && !strcmp(line, "disk: expected a JSON object"), "not an object: %s", line);
	ok(!d.id && !d.file, "a disk that fails holds nothing");
}

/* A NIC: its model and type read, a bad MAC named. */
static void test_nic(void)
{
	struct json_object *good = json_tokener_parse("{\"id\": \"net1\", \"model\": \"e1000e\"}");
	struct json_object *bad = json_tokener_parse("{\"id\": \"net1\", \"mac\": \"01:00:00:00:00:01\"}");
	_cleanup_verr_ struct verr err = { 0 };
	struct nic_config n;

	ok(config_nic_from_json(good, "nic", &n, &err) == 0 && n.model == NIC_E1000E && n.type == NIC_USER,
	   "a valid NIC passes with type user");
	config_nic_free(&n);
	ok(config_nic_from_json(bad, "nic", &n, &err) < 0 && err.n == 1 && !strncmp(err.lines[0], "nic: mac: ", 10),
	   "a multicast MAC is refused: %s", err.n ? err.lines[0] : "");
	json_object_put(good);
	json_object_put(bad);
}

int main(void)
{
	test_valid_disk();
	test_bad_disk();
	test_nic();
	return tap_done();
}
