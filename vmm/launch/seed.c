/* The seed is an ISO 9660 image written by xorriso (GNU xorriso, maintained upstream and in
 * Debian; `xorriso -as mkisofs` takes genisoimage's options, whose own upstream, cdrkit, has
 * been dead since 2010). ISO 9660 with Rock Ridge and Joliet is what cloud-init's NoCloud
 * documentation and cloud-localds make, every cloud image's kernel reads it (isofs), and it is
 * read-only by nature; a FAT seed would need two tools (mkfs.vfat, mcopy) and nls modules. */
#include "vmm/launch/seed.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <json-c/json.h>

#include "vmm/base/sha256.h"
#include "vmm/base/util.h"
#include "vmm/launch/tool.h"

/* The largest user-data or network-config file taken into a seed. */
#define SEED_FILE_MAX (1 << 20)

/* The seed's three files. */
enum { META_DATA, USER_DATA, NETWORK_CONFIG, SEED_FILES };
static const char *const seed_names[SEED_FILES] = { "meta-data", "user-data", "network-config" };

void seed_add_disk(struct vm_config *c, const char *data)
{
	struct disk_config *d;

	if (!c->cloud_init)
		return;
	c->disks = xrealloc(c->disks, (c->n_disks + 1) * sizeof(*c->disks));
	d = &c->disks[c->n_disks++];
	/* Writeback: the seed may live on a filesystem without O_DIRECT (tmpfs). */
	*d = (struct disk_config){ .id = xstrdup(SEED_DISK_ID), .file = xasprintf("%s/%s/cidata.iso", data, c->name),
				   .serial = xstrdup(SEED_DISK_ID), .format = FORMAT_RAW, .bus = BUS_VIRTIO_BLK,
				   .cache = CACHE_WRITEBACK, .readonly = true };
}

/* Reads a whole text file of the profile (what: its key, for errors) into *out. */
static int read_text(const char *file, const char *what, char **out, struct verr *err)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		return verr_set(err, errno, "%s: cannot read '%s'", what, file);
	if (!S_ISREG(st.st_mode) || st.st_size > SEED_FILE_MAX)
		return verr_set(err, 0, "%s: '%s' is not a regular file of at most 1 MiB", what, file);
	buf = xmalloc((size_t)st.st_size + 1);
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return verr_set(err, n ? errno : 0, "%s: cannot read '%s'", what, file);
		len += (size_t)n;
	}
	buf[len] = '\0';
	*out = steal_ptr(buf);
	return 0;
}

/* A JSON value as YAML (JSON is YAML's flow style, and cloud-init reads its files as YAML):
 * indented, strings quoted and escaped, so no user string can add a key. */
static char *as_yaml(struct json_object *o, const char *header)
{
	char *s = xasprintf("%s%s\n", header,
			    json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
								      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(o);
	return s;
}

/* The user-data vmm writes from the profile: a #cloud-config with the host name, the user
 * (sudo without a password, its keys and password hash), or the keys for the image's default
 * user, and the guest agent when the VM has its channel. */
static char *user_data(const struct vm_config *c, const char *hostname)
{
	const struct cloud_init_config *ci = c->cloud_init;
	struct json_object *cfg = json_object_new_object(), *keys = NULL;

	json_object_object_add(cfg, "hostname", json_object_new_string(hostname));
	if (ci->ssh_authorized_keys) {
		keys = json_object_new_array();
		for (size_t i = 0; ci->ssh_authorized_keys[i]; i++)
			json_object_array_add(keys, json_object_new_string(ci->ssh_authorized_keys[i]));
	}
	if (ci->user) {
		struct json_object *users = json_object_new_array(), *u = json_object_new_object();
		json_object_object_add(u, "name", json_object_new_string(ci->user));
		json_object_object_add(u, "sudo", json_object_new_string("ALL=(ALL) NOPASSWD:ALL"));
		json_object_object_add(u, "shell", json_object_new_string("/bin/bash"));
		json_object_object_add(u, "lock_passwd", json_object_new_boolean(!ci->password_hash));
		if (ci->password_hash)
			json_object_object_add(u, "passwd", json_object_new_string(ci->password_hash));
		if (keys)
			json_object_object_add(u, "ssh_authorized_keys", keys);
		json_object_array_add(users, json_object_new_string("default"));
		json_object_array_add(users, u);
		json_object_object_add(cfg, "users", users);
	} else if (keys)
		json_object_object_add(cfg, "ssh_authorized_keys", keys);
	json_object_object_add(cfg, "ssh_pwauth", json_object_new_boolean(false));
	if (c->agent) {
		/* The VM has an agent channel: the guest gets the agent (vmm ip, vmm wait ssh use it). */
		struct json_object *pkgs = json_object_new_array(), *run = json_object_new_array();
		struct json_object *start = json_object_new_array();
		json_object_array_add(pkgs, json_object_new_string("qemu-guest-agent"));
		json_object_object_add(cfg, "packages", pkgs);
		json_object_array_add(start, json_object_new_string("systemctl"));
		json_object_array_add(start, json_object_new_string("start"));
		json_object_array_add(start, json_object_new_string("qemu-guest-agent"));
		json_object_array_add(run, start);
		json_object_object_add(cfg, "runcmd", run);
	}
	return as_yaml(cfg, "#cloud-config\n");
}

/* The network-config vmm writes when the profile gives none: DHCP on every Ethernet NIC. */
static char *network_config(void)
{
	struct json_object *cfg = json_object_new_object(), *eth = json_object_new_object();
	struct json_object *all = json_object_new_object(), *match = json_object_new_object();

	json_object_object_add(match, "name", json_object_new_string("e*"));
	json_object_object_add(all, "match", match);
	json_object_object_add(all, "dhcp4", json_object_new_boolean(true));
	json_object_object_add(eth, "all", all);
	json_object_object_add(cfg, "version", json_object_new_int(2));
	json_object_object_add(cfg, "ethernets", eth);
	return as_yaml(cfg, "");
}

/* The texts of the seed's files. */
static int seed_texts(const struct vm_config *c, const char *uuid, char *texts[SEED_FILES], struct verr *err)
{
	const struct cloud_init_config *ci = c->cloud_init;
	const char *hostname = ci->hostname ? ci->hostname : c->name;
	struct json_object *meta = json_object_new_object();

	_cleanup_free_ char *iid = xasprintf("iid-%s", uuid);

	json_object_object_add(meta, "instance-id", json_object_new_string(iid));
	json_object_object_add(meta, "local-hostname", json_object_new_string(hostname));
	texts[META_DATA] = as_yaml(meta, "");
	if (ci->user_data ? read_text(ci->user_data, "cloud_init.user_data", &texts[USER_DATA], err) < 0
			  : !(texts[USER_DATA] = user_data(c, hostname)))
		return -1;
	if (ci->network_config)
		return read_text(ci->network_config, "cloud_init.network_config", &texts[NETWORK_CONFIG], err);
	texts[NETWORK_CONFIG] = network_config();
	return 0;
}

/* The hash of the seed's files (each name, length and text), as hex. */
static void seed_hash(char *const texts[SEED_FILES], char hex[2 * SHA256_SIZE + 1])
{
	_cleanup_free_ char *all = xstrdup("");
	uint8_t sum[SHA256_SIZE];

	for (int i = 0; i < SEED_FILES; i++) {
		char *more = xasprintf("%s%s\n%zu\n%s", all, seed_names[i], strlen(texts[i]), texts[i]);
		free(all);
		all = more;
	}
	sha256(all, strlen(all), sum);
	for (int i = 0; i < SHA256_SIZE; i++)
		snprintf(hex + 2 * i, 3, "%02x", sum[i]);
}

/* Writes text into a new file (mode 0600). */
static int write_file(const char *file, const char *text, struct verr *err)
{
	_cleanup_close_ int fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0 || write_all(fd, text, strlen(text)) < 0 || fsync(fd) < 0)
		return verr_set(err, errno, "cannot write '%s'", file);
	return 0;
}

/* True when file holds exactly text. */
static bool holds(const char *file, const char *text)
{
	char buf[2 * SHA256_SIZE + 2];
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, sizeof(buf) - 1);

	if (n < 0)
		return false;
	buf[n] = '\0';
	return !strcmp(buf, text);
}

/* nftw callback: removes what is under the seed's work directory. */
static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *f)
{
	return remove(path);
}

/* Writes the files into a new directory beside iso and makes the image from them, then puts it
 * in place atomically. */
static int make_iso(const char *iso, char *const texts[SEED_FILES], struct verr *err)
{
	_cleanup_free_ char *work = xasprintf("%s.tmpXXXXXX", iso), *tmp = xasprintf("%s.tmp", iso);
	_cleanup_free_ char *what = xasprintf("cannot make the cloud-init seed '%s'", iso);
	struct strv files = { 0 };
	int r = 0;

	if (!mkdtemp(work))
		return verr_set(err, errno, "%s", what);
	for (int i = 0; i < SEED_FILES && r == 0; i++) {
		strv_pushf(&files, "%s/%s", work, seed_names[i]);
		r = write_file(files.v[i], texts[i], err);
	}
	if (r == 0) {
		const char *args[] = { "-as", "mkisofs", "-quiet", "-output", tmp, "-volid", "cidata", "-joliet", "-rock",
				       files.v[0], files.v[1], files.v[2], NULL };
		unlink(tmp);
		r = tool_run("xorriso", args, NULL, NULL, what, err);
	}
	if (r == 0 && rename(tmp, iso) < 0)
		r = verr_set(err, errno, "%s", what);
	if (r < 0)
		unlink(tmp);
	nftw(work, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
	strv_free(&files);
	return r;
}

int seed_prepare(const struct vm_config *c, const char *uuid, struct verr *err)
{
	char *texts[SEED_FILES] = { 0 };
	char hex[2 * SHA256_SIZE + 1];
	_cleanup_free_ char *hash_file = NULL;
	const char *iso = NULL;
	int r = 0;

	if (!c->cloud_init)
		return 0;
	for (size_t i = 0; i < c->n_disks; i++)
		if (!strcmp(c->disks[i].id, SEED_DISK_ID))
			iso = c->disks[i].file;
	hash_file = xasprintf("%s.sha256", iso);
	if (seed_texts(c, uuid, texts, err) < 0)
		r = -1;
	if (r == 0) {
		seed_hash(texts, hex);
		if (access(iso, F_OK) < 0 || !holds(hash_file, hex))
			r = make_iso(iso, texts, err) < 0 || write_file(hash_file, hex, err) < 0 ? -1 : 0;
	}
	for (int i = 0; i < SEED_FILES; i++)
		free(texts[i]);
	return r;
}
