#include "vmm/supervisor/save.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/protocol.h"
#include "vmm/supervisor/save-record.h"
#include "vmm/supervisor/savefile.h"
#include "vmm/supervisor/sup-control.h"
#include "vmm/supervisor/upgrade-int.h"

/* Moves what QEMU wrote into the pipe so far into the save file: until the pipe is empty (or,
 * block, until EOF). splice moves it in the kernel, so that a supervisor killed at any moment
 * leaves each byte either in the pipe or in the file (save-record.h); a file system without it
 * gets read and write. Returns 0, or -1 after failing u. */
static int copy_stream(struct upgrade *u, bool block)
{
	char buf[65536];
	ssize_t n;

	for (;;) {
		if (!u->no_splice) {
			n = splice(u->pipe_fd, NULL, u->file_fd, NULL, 1 << 20, block ? 0 : SPLICE_F_NONBLOCK);
			if (n < 0 && errno == EINVAL) {
				u->no_splice = true;
				continue;
			}
		} else {
			n = read(u->pipe_fd, buf, sizeof(buf));
			if (n > 0 && write_all(u->file_fd, buf, (size_t)n) < 0)
				n = -1;
		}
		if (n == 0) { /* all of it: query-migrate says whether it is complete */
			if (u->copy)
				event_del(u->copy);
			return 0;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			return 0;
		if (n < 0) {
			move_fail(u, "cannot write '%s.partial': %s", u->save_to, strerror(errno));
			return -1;
		}
	}
}

/* QEMU wrote more of the stream. */
static void copy_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	copy_stream(arg, false);
}

void save_copy_start(struct upgrade *u)
{
	fcntl(u->pipe_fd, F_SETFL, O_NONBLOCK);
	u->copy = event_new(u->s->base, u->pipe_fd, EV_READ | EV_PERSIST, copy_cb, u);
	event_add(u->copy, NULL);
}

/* The save file is complete: it takes its name, and the VM ends, saved (the request is answered
 * with how it ended, like a stop). */
void save_done(struct upgrade *u)
{
	/* QEMU closes its end once done: the rest of the stream, then EOF. */
	event_free(steal_ptr(u->copy));
	fcntl(u->pipe_fd, F_SETFL, 0);
	if (copy_stream(u, true) < 0)
		return;
	if (fsync(u->file_fd) < 0) {
		move_fail(u, "cannot write '%s': %s", u->save_to, strerror(errno));
		return;
	}
	if (renameat2(AT_FDCWD, u->partial, AT_FDCWD, u->save_to, RENAME_NOREPLACE) < 0 &&
	    (errno != EINVAL || rename(u->partial, u->save_to) < 0)) { /* EINVAL: a file system without it */
		move_fail(u, errno == EEXIST ? "cannot save to '%s': it appeared while saving (vmm save does not overwrite a file)"
					     : "cannot write '%s': %s", u->save_to, strerror(errno));
		return;
	}
	save_end(u);
}

void save_end(struct upgrade *u)
{
	struct sup *s = u->s;

	save_keeper_end(u);
	free(steal_ptr(u->partial));
	if (u->file_fd >= 0)
		close(steal_fd(u->file_fd));
	if (u->pipe_fd >= 0)
		close(steal_fd(u->pipe_fd));
	u->finished = true;
	u->total_ms = move_elapsed_ms(u);
	say(&s->vm, "saved to %s: %lld MiB in %lld ms (the guest paused for the last %lld ms)", u->save_to,
	    (long long)(u->transferred >> 20), (long long)u->total_ms, (long long)u->downtime_ms);
	s->saved_to = steal_ptr(u->save_to);
	s->vm.stopping = true;
	if (u->conn)
		sup_add_waiter(s, steal_ptr(u->conn));
	move_send(u, "quit", NULL, move_quiet_cb);
	move_free_when_done(u);
}

void save_keep_stream(struct upgrade *u)
{
	_cleanup_verr_ struct verr err = { 0 };

	if (u->keeper > 0 && save_record_write(u, true, &err) < 0)
		say_err(&u->s->vm, &err);
}

void save_release(struct upgrade *u)
{
	save_keeper_end(u);
	save_record_remove(&u->s->rd);
}

void save_request(struct sup *s, struct control_conn *conn, struct json_object *args)
{
	_cleanup_free_ char *no = move_refusal(s);
	_cleanup_verr_ struct verr err = { 0 };
	struct json_object *file, *rate = NULL;
	const char *path;
	_cleanup_free_ char *partial = NULL;
	struct upgrade *u;
	struct stat st;
	int fd, pipe[2];

	if (no) {
		control_fail(conn, "cannot save: %s", no);
		return;
	}
	if (!json_object_object_get_ex(args, CTL_ARG_FILE, &file) || !json_object_is_type(file, json_type_string) ||
	    json_object_get_string(file)[0] != '/') {
		control_fail(conn, CTL_ARG_FILE ": expected an absolute path");
		return;
	}
	if (json_object_object_get_ex(args, CTL_ARG_BANDWIDTH, &rate) &&
	    (!json_object_is_type(rate, json_type_int) || json_object_get_int64(rate) <= 0)) {
		control_fail(conn, CTL_ARG_BANDWIDTH ": expected bytes per second, a positive integer");
		return;
	}
	path = json_object_get_string(file);
	if (lstat(path, &st) == 0) { /* a dangling symlink too: not followed, not replaced */
		control_fail(conn, "cannot save to '%s': it exists (vmm save does not overwrite a file)", path);
		return;
	}
	partial = xasprintf("%s.partial", path);
	if (lstat(partial, &st) == 0) {
		control_fail(conn, "cannot create '%s': it exists", partial);
		return;
	}
	u = move_new(s);
	u->save_to = xstrdup(path);
	u->bandwidth = rate ? json_object_get_int64(rate) : 0;
	u->conn = conn;
	control_hold(conn);
	/* QEMU writes into a pipe, copied into the file: fd: to a file is deprecated (QEMU 9.1). */
	if (pipe2(pipe, O_CLOEXEC) < 0) {
		move_fail(u, "cannot create a pipe: %s", strerror(errno));
		return;
	}
	u->pipe_fd = pipe[0];
	u->mig_fd = pipe[1];
	/* Recorded before the partial file is made: a supervisor killed from here on leaves no
	 * partial file that the next one does not know of. */
	if ((u->keeper = save_keeper_start(u->pipe_fd)) < 0) {
		u->keeper = 0;
		move_fail(u, "cannot start the process that holds the save's pipe: %s", strerror(errno));
		return;
	}
	u->keeper_child = true;
	if (save_record_write(u, false, &err) < 0) {
		_cleanup_free_ char *text = move_joined(&err);
		move_fail(u, "%s", text);
		return;
	}
	u->partial = steal_ptr(partial);
	fd = open(u->partial, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		free(steal_ptr(u->partial)); /* not ours to remove */
		move_fail(u, "cannot create '%s.partial': %s", path, strerror(e));
		return;
	}
	u->file_fd = fd;
	save_copy_start(u);
	if (savefile_write_header(fd, s->plan, s->vm.version, &err) < 0) {
		_cleanup_free_ char *text = move_joined(&err);
		move_fail(u, "%s", text);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &u->t0);
	say(&s->vm, "saving to %s", path);
	if (!u->bandwidth) /* capped, it takes what it takes: Ctrl-C cancels */
		arm_ms(u->deadline, UPGRADE_TIMEOUT_MS);
	move_send(u, "query-migrate-capabilities", NULL, move_caps_cb);
}

void save_cancel_request(struct sup *s, struct control_conn *conn)
{
	struct upgrade *u = s->upgrade;

	if (!u || !u->save_to || u->finished) {
		control_fail(conn, "no save is under way");
		return;
	}
	say(&s->vm, "cancelling the save to %s (migrate_cancel)", u->save_to);
	control_reply(conn, json_object_new_object());
	if (!u->migrating) { /* the steps before migrate see that it failed */
		move_fail(u, "cancelled");
		return;
	}
	/* QEMU cancels (the stream is still copied meanwhile); query-migrate sees it cancelled, or
	 * completed if the cancel came too late. */
	u->cancelled = true;
	move_send(u, "migrate_cancel", NULL, move_quiet_cb);
}
