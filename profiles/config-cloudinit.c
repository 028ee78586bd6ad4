/* The schema of "cloud_init": what vmm writes into the VM's NoCloud seed (vmm/launch/seed.h). */
#include "profiles/config-walk.h"

#include <ctype.h>
#include <string.h>

static const char *const cloud_init_keys[] = { "hostname", "user", "ssh_authorized_keys", "password_hash",
					       "user_data", "network_config", NULL };

/* True when s is a host name: dot-separated labels of 1 to 63 letters, digits and '-', not
 * starting or ending with '-', 253 characters at most. */
static bool hostname_valid(const char *s)
{
	size_t label = 0, n = strlen(s);

	if (!n || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (s[i] == '.' || !s[i]) {
			if (!label || label > 63 || s[i - 1] == '-')
				return false;
			label = 0;
		} else if (isalnum((unsigned char)s[i]) || (s[i] == '-' && label))
			label++;
		else
			return false;
	}
	return true;
}

/* True when s is a user name every Linux takes: a lower-case letter or '_', then up to 31
 * lower-case letters, digits, '_' or '-'. */
static bool user_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 32 || !(islower((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

/* True when s is one line of printable text (what a key or hash must be to stay one line). */
static bool one_line(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < ' ' || *s == 0x7f)
			return false;
	return true;
}

/* Validates "cloud_init.ssh_authorized_keys": a list of public keys, one line each. */
static void walk_keys(struct walk *w, struct json_object *ci, struct cloud_init_config *out)
{
	struct json_object *keys = jr_member(&w->jr, ci, "cloud_init", "ssh_authorized_keys", json_type_array,
					     "a list of SSH public keys");
	size_t n;

	if (!keys)
		return;
	n = json_object_array_length(keys);
	out->ssh_authorized_keys = xzalloc((n + 1) * sizeof(char *));
	for (size_t i = 0, k = 0; i < n; i++) {
		struct json_object *key = json_object_array_get_idx(keys, i);
		const char *s = json_object_get_string(key);
		if (!json_object_is_type(key, json_type_string) || !*s || !one_line(s) || !strchr(s, ' ')) {
			_cleanup_free_ char *p = json_path_index("cloud_init.ssh_authorized_keys", i);
			jr_problem(&w->jr, p, NULL, "expected an SSH public key on one line (\"ssh-ed25519 AAAA... me@host\")");
		} else
			out->ssh_authorized_keys[k++] = xstrdup(s);
	}
}

/* Validates "cloud_init" into c->cloud_init (NULL when absent). */
void cfg_walk_cloud_init(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *ci = jr_object(&w->jr, json, "", "cloud_init", cloud_init_keys);
	struct cloud_init_config *out;

	if (!ci)
		return;
	out = c->cloud_init = xzalloc(sizeof(*out));
	jr_string(&w->jr, ci, "cloud_init", "hostname", &out->hostname);
	jr_string(&w->jr, ci, "cloud_init", "user", &out->user);
	walk_keys(w, ci, out);
	jr_string(&w->jr, ci, "cloud_init", "password_hash", &out->password_hash);
	cfg_get_path(w, ci, "cloud_init", "user_data", &out->user_data);
	cfg_get_path(w, ci, "cloud_init", "network_config", &out->network_config);
	if (out->hostname && !hostname_valid(out->hostname))
		jr_problem(&w->jr, "cloud_init", "hostname", "'%s' is not a host name (letters, digits and '-' in "
			   "dot-separated labels)", out->hostname);
	if (out->user && !user_valid(out->user))
		jr_problem(&w->jr, "cloud_init", "user", "'%s' is not a user name (a lower-case letter or '_', then up "
			   "to 31 lower-case letters, digits, '_' or '-')", out->user);
	if (out->password_hash && (out->password_hash[0] != '$' || !one_line(out->password_hash)))
		jr_problem(&w->jr, "cloud_init", "password_hash", "expected a password hash as crypt(3) writes it "
			   "(\"$6$...\", from 'mkpasswd -m sha-512'), never the password");
	else if (out->password_hash && !out->user)
		jr_problem(&w->jr, "cloud_init", "password_hash", "sets the password of cloud_init.user, which is missing");
	for (size_t i = 0; i < c->n_disks; i++)
		if (c->disks[i].id && !strcmp(c->disks[i].id, CLOUD_INIT_DISK_ID)) {
			_cleanup_free_ char *p = json_path_index("disks", i);
			jr_problem(&w->jr, p, "id", "'%s' is the id of the cloud-init seed's disk (choose another)",
				   CLOUD_INIT_DISK_ID);
		}
	if (out->user_data && (out->user || out->ssh_authorized_keys || out->password_hash))
		jr_problem(&w->jr, "cloud_init", "user_data", "is the whole user-data: write the user, keys and password "
			   "in it, or drop it and let vmm write them");
}

/* Frees a cloud-init config (may be NULL). */
void cloud_init_free(struct cloud_init_config *ci)
{
	if (!ci)
		return;
	free(ci->hostname);
	free(ci->user);
	for (size_t i = 0; ci->ssh_authorized_keys && ci->ssh_authorized_keys[i]; i++)
		free(ci->ssh_authorized_keys[i]);
	free(ci->ssh_authorized_keys);
	free(ci->password_hash);
	free(ci->user_data);
	free(ci->network_config);
	free(ci);
}
