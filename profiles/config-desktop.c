/* The VM schema's desktop devices: "looking_glass" (the guest's frames shared with the host's
 * Looking Glass client through an ivshmem memory) and "audio" (the host's sound server). */
#include <stdio.h>
#include <string.h>

#include "profiles/config-walk.h"

static const char *const looking_glass_keys[] = { "size", "resolution", "path", "user", NULL };

/* The largest frame Looking Glass is given memory for, per side. */
#define LG_SIDE_MAX 16384

const struct enum_name audio_names[] = {
	[AUDIO_NONE] = { "none", NULL },
	[AUDIO_PIPEWIRE] = { "pipewire", "pipewire" },
	[AUDIO_PULSEAUDIO] = { "pulseaudio", "pa" },
	{ NULL, NULL },
};

/* Looking Glass's rule for its shared memory: two frames of 32-bit pixels and 10 MiB for the
 * rest, rounded up to a power of two. */
static uint64_t lg_size_for(unsigned width, unsigned height)
{
	uint64_t need = (uint64_t)width * height * 4 * 2 + 10 * MIB, size = MIB;

	while (size < need)
		size <<= 1;
	return size;
}

/* Validates "looking_glass": {size | resolution: "WxH", path, user}. */
static void walk_looking_glass(struct walk *w, struct json_object *json, struct vm_config *c)
{
	struct json_object *lg = jr_object(&w->jr, json, "", "looking_glass", looking_glass_keys), *res;
	unsigned width, height;
	char end;

	if (!lg)
		return;
	c->looking_glass = true;
	cfg_get_size(w, lg, "looking_glass", "size", MIB, &c->lg_size);
	res = jr_member(&w->jr, lg, "looking_glass", "resolution", json_type_string, "a resolution such as \"2560x1440\"");
	if (res && (strspn(json_object_get_string(res), "0123456789x") != (size_t)json_object_get_string_len(res) ||
		    sscanf(json_object_get_string(res), "%ux%u%c", &width, &height, &end) != 2 || !width || !height ||
		    width > LG_SIDE_MAX || height > LG_SIDE_MAX))
		jr_problem(&w->jr, "looking_glass", "resolution",
			   "'%s' is not WIDTHxHEIGHT (such as \"2560x1440\", at most %ux%u)",
			   json_object_get_string(res), LG_SIDE_MAX, LG_SIDE_MAX);
	else if (res && c->lg_size)
		jr_problem(&w->jr, "looking_glass", "resolution", "give size or resolution, not both");
	else if (res)
		c->lg_size = lg_size_for(width, height);
	else if (!c->lg_size)
		jr_problem(&w->jr, "looking_glass", NULL, "expected size or resolution");
	if (c->lg_size & (c->lg_size - 1))
		jr_problem(&w->jr, "looking_glass", "size", "%lluM is not a power of two (ivshmem needs one)",
			   (unsigned long long)(c->lg_size / MIB));
	c->lg_path = xstrdup("/dev/shm/looking-glass");
	cfg_get_path(w, lg, "looking_glass", "path", &c->lg_path);
	jr_string(&w->jr, lg, "looking_glass", "user", &c->lg_user);
}

void cfg_walk_desktop(struct walk *w, struct json_object *json, struct vm_config *c)
{
	walk_looking_glass(w, json, c);
	cfg_get_table_enum(w, json, "", "audio", audio_names, c->audio);
}
