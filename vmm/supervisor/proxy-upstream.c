/* The proxy's side toward QEMU: the clients with an in-band command waiting take turns
 * (round-robin) while QEMU holds fewer than PROXY_INBAND of them, each with at most
 * PROXY_CLIENT_INBAND there; out-of-band commands go at once. A command with descriptors
 * goes when no other is at QEMU (QEMU keeps only the last ones it received) and once
 * QEMU read what it was sent before. Replies come back to the command's entry, or are
 * dropped when its client left. */
#include <errno.h>
#include <unistd.h>

#include "vmm/base/util.h"
#include "vmm/supervisor/proxy-int.h"

/* How long a command with descriptors waits before trying again to reach QEMU. */
#define PROXY_RETRY_MS 10

/* QEMU answered a command, or the connection ended: the client gets the answer in its
 * turn, may send its next command and be read further, and the next command goes. */
static void reply_cb(struct qmp_client *q, const struct qmp_result *r, void *arg)
{
	struct pcmd *cmd = arg;
	struct proxy *p = cmd->p;
	struct pclient *c = cmd->c;

	(void)q;
	p->sent--;
	if (!cmd->oob)
		p->inband--;
	if (p->fds_cmd == cmd)
		p->fds_cmd = NULL;
	if (!c)
		pcmd_free(cmd);
	else {
		peer_ref(c->peer);
		if (!cmd->oob)
			c->inband--;
		if (r->failure == QMP_OK)
			pcmd_done(cmd, proxy_return_line(json_object_get(r->ret), cmd->id));
		else
			pcmd_done(cmd, proxy_error_line(cmd->id, r->class ? r->class : "GenericError", r->desc));
		proxy_ready(c);
		pclient_read_more(c);
		peer_unref(c->peer);
	}
	if (p->closed)
		proxy_release(p);
	else
		proxy_dispatch(p);
}

/* The command went to QEMU (rc 0), or it could not: then it is answered so. */
static void sent(struct proxy *p, struct pcmd *cmd, int rc)
{
	if (rc < 0) {
		pcmd_done(cmd, proxy_error_line(cmd->id, "GenericError", "QEMU is gone"));
		return;
	}
	cmd->state = PCMD_SENT;
	p->sent++;
	if (!cmd->oob) {
		p->inband++;
		cmd->c->inband++;
	}
	if (cmd->n_fds) { /* QEMU has its own copies now */
		for (size_t i = 0; i < cmd->n_fds; i++)
			close(cmd->fds[i]);
		cmd->n_fds = 0;
		p->fds_cmd = cmd;
	}
}

void proxy_send_oob(struct pcmd *cmd, struct json_object *msg)
{
	sent(cmd->p, cmd, qmp_send_object(cmd->p->qmp, json_object_get(msg), 0, reply_cb, cmd));
}

void proxy_ready(struct pclient *c)
{
	if (c->in_round || !c->waiting || c->inband >= PROXY_CLIENT_INBAND || peer_gone(c->peer))
		return;
	TAILQ_INSERT_TAIL(&c->p->round, c, turn);
	c->in_round = true;
}

void proxy_leave_round(struct pclient *c)
{
	if (c->in_round)
		TAILQ_REMOVE(&c->p->round, c, turn);
	c->in_round = false;
}

/* The client's first command not sent yet. */
static struct pcmd *first_waiting(struct pclient *c)
{
	struct pcmd *cmd;

	TAILQ_FOREACH(cmd, &c->queue, entry)
		if (cmd->state == PCMD_WAITING)
			break;
	return cmd;
}

/* Sends a waiting command (its text parsed again: it was read as valid JSON); -EAGAIN
 * when its descriptors must wait for QEMU to read what it was sent. */
static int send_waiting(struct proxy *p, struct pcmd *cmd)
{
	struct json_tokener *tok = json_tokener_new_ex(QMP_READER_MAX_DEPTH);
	struct json_object *obj = json_tokener_parse_ex(tok, cmd->text, (int)cmd->len);
	int rc;

	json_tokener_free(tok);
	if (cmd->n_fds)
		rc = qmp_send_fds(p->qmp, obj, cmd->fds, cmd->n_fds, 0, reply_cb, cmd);
	else
		rc = qmp_send_object(p->qmp, obj, 0, reply_cb, cmd);
	if (rc == -EAGAIN)
		return rc;
	cmd->c->waiting--;
	cmd->c->waiting_bytes -= cmd->len;
	free(steal_ptr(cmd->text));
	sent(p, cmd, rc);
	return 0;
}

void proxy_dispatch(struct proxy *p)
{
	TAILQ_HEAD(, pclient) later = TAILQ_HEAD_INITIALIZER(later); /* clients whose descriptors wait */
	struct timeval retry = { 0, PROXY_RETRY_MS * 1000 };
	struct pclient *c;

	while (!p->closed && p->inband < PROXY_INBAND && (c = TAILQ_FIRST(&p->round))) {
		struct pcmd *cmd = first_waiting(c);
		TAILQ_REMOVE(&p->round, c, turn);
		/* Only c can be dropped meanwhile (by its own answer): those in later stay. */
		if (cmd->n_fds && p->fds_cmd) {
			TAILQ_INSERT_TAIL(&later, c, turn);
			continue;
		}
		c->in_round = false;
		peer_ref(c->peer);
		if (send_waiting(p, cmd) == -EAGAIN) {
			TAILQ_INSERT_TAIL(&later, c, turn);
			c->in_round = true;
			evtimer_add(p->retry, &retry);
		} else
			proxy_ready(c);
		peer_unref(c->peer);
	}
	TAILQ_CONCAT(&later, &p->round, turn); /* they keep their turn */
	TAILQ_CONCAT(&p->round, &later, turn);
}
