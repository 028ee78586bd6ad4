#include "vmm/supervisor/sup-hugepages.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <json-c/json.h>

#include "vmm/base/hugepages.h"
#include "vmm/base/strict.h"
#include "vmm/base/util.h"

/* The record of what the VM took, in its run directory. */
#define HUGEPAGES_FILE "hugepages.json"

/* Adds one grant {"pool", "node", "pages"} to the list. */
static void grant(struct json_object *list, const char *pool, int node, uint64_t pages)
{
	struct json_object *g = json_object_new_object();

	json_object_object_add(g, "pool", json_object_new_string(pool));
	json_object_object_add(g, "node", json_object_new_int(node));
	json_object_object_add(g, "pages", json_object_new_int64((int64_t)pages));
	json_object_array_add(list, g);
}

/* What the VM needs: each guest NUMA node bound to a host node from that node's pool, the
 * rest of its RAM from the host's. */
static struct json_object *grants(const struct vm_config *c)
{
	const struct hugepage_size *page = &hugepage_sizes[c->hugepages];
	struct json_object *list = json_object_new_array();
	uint64_t unbound = c->memory;

	for (size_t i = 0; i < c->n_numa; i++)
		if (c->numa[i].host_node >= 0) {
			grant(list, page->sysfs, c->numa[i].host_node, c->numa[i].size / page->bytes);
			unbound -= c->numa[i].size;
		}
	if (unbound)
		grant(list, page->sysfs, -1, unbound / page->bytes);
	return list;
}

/* Lowers the pools by the first N grants of list, adding failures to err. */
static long lower(struct json_object *list, size_t n, struct verr *err)
{
	long total = 0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *g = json_object_array_get_idx(list, i), *pool;
		int64_t node, pages;

		/* The record is a file: a number of another type or sign must not lower a pool. */
		if (!json_object_object_get_ex(g, "pool", &pool) || !json_object_is_type(pool, json_type_string) ||
		    !json_int_member(g, "node", -1, INT32_MAX, &node) || !json_int_member(g, "pages", 0, LONG_MAX, &pages)) {
			verr_set(err, 0, HUGEPAGES_FILE ": entry %zu is not {pool, node, pages}", i);
			continue;
		}
		if (hugepages_lower(json_object_get_string(pool), (int)node, (unsigned long)pages, err) == 0)
			total += (long)pages;
	}
	return total;
}

int hugepages_take(const struct vm_config *c, struct rundir *rd, struct verr *err)
{
	_cleanup_close_ int fd = -1;
	struct json_object *list;
	size_t done = 0;
	int ret = 0;

	if (c->hugepages == HUGEPAGES_NONE || !c->hugepages_reserve)
		return 0;
	fd = rundir_open_file(rd, HUGEPAGES_FILE, O_RDONLY | O_CLOEXEC, 0);
	if (fd >= 0)
		return 0;
	list = grants(c);
	/* On record before the pools change: whoever ends the VM gives back what is recorded. */
	if (rundir_write(rd, HUGEPAGES_FILE, json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN), false,
			 err) < 0) {
		json_object_put(list);
		return -1;
	}
	for (; done < json_object_array_length(list); done++) {
		struct json_object *g = json_object_array_get_idx(list, done);

		if (hugepages_raise(json_object_get_string(json_object_object_get(g, "pool")),
				    json_object_get_int(json_object_object_get(g, "node")),
				    (unsigned long)json_object_get_int64(json_object_object_get(g, "pages")), err) < 0) {
			struct verr undo = { 0 };

			lower(list, done, &undo);
			verr_append(err, &undo);
			rundir_unlink(rd, HUGEPAGES_FILE);
			verr_wrap(err, "memory.hugepages.reserve");
			ret = -1;
			break;
		}
	}
	json_object_put(list);
	return ret;
}

long hugepages_give_back(struct rundir *rd, struct verr *err)
{
	_cleanup_close_ int fd = rundir_open_file(rd, HUGEPAGES_FILE, O_RDONLY | O_CLOEXEC, 0);
	struct json_object *list;
	long n;

	if (fd < 0)
		return errno == ENOENT ? 0 : verr_set(err, errno, "cannot read " HUGEPAGES_FILE);
	list = json_object_from_fd(fd);
	if (!json_object_is_type(list, json_type_array)) {
		json_object_put(list);
		return verr_set(err, 0, HUGEPAGES_FILE " is not a list of grants: nothing given back");
	}
	n = lower(list, json_object_array_length(list), err);
	json_object_put(list);
	rundir_unlink(rd, HUGEPAGES_FILE);
	return n;
}
