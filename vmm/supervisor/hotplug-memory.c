/* Memory (hotplug.h): set memory=SIZE has the VM's virtio-mem device (BUILD_VIRTIO_MEM_ID,
 * built at boot holding everything above memory.size, none of it plugged) ask the guest to plug
 * or unplug memory until it has SIZE: qom-set of its requested-size, then the device's size,
 * and MEMORY_DEVICE_SIZE_CHANGE events until it is what was asked (never a poll). A guest not
 * there within CTL_RELEASE_TIMEOUT_MS fails the request, saying how much it has; the device
 * goes on asking it. */
#include "vmm/supervisor/hotplug-dev.h"

#include <inttypes.h>
#include <string.h>

#include "vmm/base/util.h"
#include "vmm/launch/builder.h"

#define VIRTIO_MEM_PATH "/machine/peripheral/" BUILD_VIRTIO_MEM_ID

/* Ends the change under way: its request gets the VM's memory (plugged: the device's size), or failure. */
static void end(struct hotplug *hp, uint64_t plugged, const char *failure)
{
	struct control_conn *conn = steal_ptr(hp->mem.conn);
	struct json_object *ret;

	hp->mem.waiting = false;
	if (hp->mem.timer)
		evtimer_del(hp->mem.timer);
	if (failure) {
		control_fail(conn, "%s", failure);
		return;
	}
	ret = json_object_new_object();
	json_object_object_add(ret, CTL_ARG_MEMORY, json_object_new_int64((int64_t)(hp->plan->config.memory + plugged)));
	say(hp->vm, "memory: %" PRIu64 "M", (hp->plan->config.memory + plugged) >> 20);
	control_reply(conn, ret);
}

void hp_memory_abort(struct hotplug *hp)
{
	if (hp->mem.conn)
		end(hp, 0, "QEMU ended before the memory was changed");
	hp->mem.plugged = 0;
	if (hp->mem.timer)
		event_free(steal_ptr(hp->mem.timer));
}

/* The guest did not get to the size asked in time: says how far it got. */
static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct hotplug *hp = arg;
	uint64_t base = hp->plan->config.memory, want = (base + hp->mem.want) >> 20, has = (base + hp->mem.plugged) >> 20;
	_cleanup_free_ char *text = NULL;

	(void)fd;
	(void)what;
	if (hp->mem.plugged > hp->mem.want)
		text = xasprintf("the guest gave back memory down to %" PRIu64 "M, not %" PRIu64 "M, within %d s (memory it "
				 "uses cannot go)", has, want, CTL_RELEASE_TIMEOUT_MS / 1000);
	else
		text = xasprintf("the guest took its memory to %" PRIu64 "M, not %" PRIu64 "M, within %d s: has it the "
				 "virtio_mem driver, and its memory onlined (memhp_default_state=online)?", has, want,
				 CTL_RELEASE_TIMEOUT_MS / 1000);
	end(hp, 0, text);
}

/* The device's size came: the request ends when it is what was asked, else waits for events. */
static void size_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct hotplug *hp = arg;
	struct timeval tv = { CTL_RELEASE_TIMEOUT_MS / 1000, (CTL_RELEASE_TIMEOUT_MS % 1000) * 1000 };

	(void)c;
	if (r->failure != QMP_OK) {
		_cleanup_free_ char *text = xasprintf("cannot read the size of %s: %s", BUILD_VIRTIO_MEM_ID, r->desc);
		end(hp, 0, text);
		return;
	}
	hp->mem.plugged = (uint64_t)json_object_get_int64(r->ret);
	if (hp->mem.plugged == hp->mem.want)
		end(hp, hp->mem.want, NULL);
	else {
		hp->mem.waiting = true;
		if (!hp->mem.timer)
			hp->mem.timer = evtimer_new(hp->base, timeout_cb, hp);
		evtimer_add(hp->mem.timer, &tv);
	}
}

/* requested-size is set: read the size the guest has plugged. */
static void requested_cb(struct qmp_client *c, const struct qmp_result *r, void *arg)
{
	struct hotplug *hp = arg;
	struct json_object *args;

	if (r->failure != QMP_OK) {
		_cleanup_free_ char *text = xasprintf("cannot set the requested size of %s: %s", BUILD_VIRTIO_MEM_ID, r->desc);
		end(hp, 0, text);
		return;
	}
	args = json_object_new_object();
	json_object_object_add(args, "path", json_object_new_string(VIRTIO_MEM_PATH));
	json_object_object_add(args, "property", json_object_new_string("size"));
	if (qmp_send(c, "qom-get", args, CTL_QMP_TIMEOUT_MS, 0, size_cb, hp) < 0)
		end(hp, 0, "QEMU's QMP connection is gone");
}

void hp_memory_event(struct hotplug *hp, struct json_object *data)
{
	struct json_object *id, *size;

	if (!json_object_object_get_ex(data, "id", &id) || strcmp(json_object_get_string(id), BUILD_VIRTIO_MEM_ID) ||
	    !json_object_object_get_ex(data, "size", &size))
		return;
	hp->mem.plugged = (uint64_t)json_object_get_int64(size);
	if (hp->mem.waiting && hp->mem.plugged == hp->mem.want)
		end(hp, hp->mem.want, NULL);
}

/* Reads a size given as bytes or as text ("4G"); false when it is neither. */
static bool read_size(struct json_object *json, uint64_t *bytes)
{
	if (json_object_is_type(json, json_type_int) && json_object_get_int64(json) > 0) {
		*bytes = (uint64_t)json_object_get_int64(json);
		return true;
	}
	return json_object_is_type(json, json_type_string) && parse_size(json_object_get_string(json), bytes) == 0;
}

void hp_memory_set(struct hotplug *hp, struct qmp_client *qmp, struct control_conn *conn, struct json_object *json)
{
	const struct vm_config *c = &hp->plan->config;
	uint64_t size, block = build_virtio_mem_block(c);
	struct json_object *args;

	if (!c->max_memory) {
		control_fail(conn, "the VM cannot change its memory: set hotplug.max_memory in its profile");
		return;
	}
	if (!build_has_virtio_mem(c, &hp->plan->launch)) {
		control_fail(conn, "the VM's memory cannot change while it runs: this QEMU has no virtio-mem-pci%s",
			     c->hugepages || c->prealloc ? " with prealloc (QEMU 7.1)" : "");
		return;
	}
	if (!read_size(json, &size) || size < c->memory || size > c->max_memory || (size - c->memory) % block) {
		control_fail(conn, CTL_ARG_MEMORY ": expected a size from memory.size (%" PRIu64 "M) to hotplug.max_memory "
			     "(%" PRIu64 "M), in steps of %" PRIu64 "M", c->memory >> 20, c->max_memory >> 20, block >> 20);
		return;
	}
	if (hp->mem.conn) {
		control_fail(conn, "a change of the memory is under way: wait for it to end");
		return;
	}
	control_hold(conn);
	hp->mem.conn = conn;
	hp->mem.want = size - c->memory;
	args = json_object_new_object();
	json_object_object_add(args, "path", json_object_new_string(VIRTIO_MEM_PATH));
	json_object_object_add(args, "property", json_object_new_string("requested-size"));
	json_object_object_add(args, "value", json_object_new_int64((int64_t)hp->mem.want));
	if (qmp_send(qmp, "qom-set", args, CTL_QMP_TIMEOUT_MS, 0, requested_cb, hp) < 0)
		end(hp, 0, "QEMU's QMP connection is gone");
}
