/* Inside the QMP proxy (see proxy.h), shared by its parts: proxy.c keeps the clients
 * (reading each, writing its answers in the order of its messages), proxy-command.c
 * makes one message an answer or a command for QEMU, proxy-upstream.c takes commands
 * to QEMU in turn and brings the replies back, proxy-policy.c says what a protected VM
 * refuses.
 *
 * Every message a client sends becomes an entry in that client's queue, in order: an
 * answer the proxy made itself (done at once), or a command for QEMU (waiting, sent,
 * then done). Answers leave the queue from its head only, so a client gets them in the
 * order of its messages. Out-of-band commands (exec-oob) go to QEMU at once and their
 * answers leave as soon as they come, as in QEMU. A client with PROXY_QUEUE entries is
 * not read further; QEMU holds PROXY_CLIENT_INBAND in-band commands of a client and
 * PROXY_INBAND of all clients at most (a monitor stops reading its connection, and with
 * it out-of-band commands, at 8), taken from the clients in turn. */
#ifndef VMM_PROXY_INT_H
#define VMM_PROXY_INT_H

#include <sys/queue.h>

#include "qmp/reader.h"
#include "vmm/supervisor/peer.h"
#include "vmm/supervisor/proxy.h"

/* Entries (messages not answered yet) a client may have, as QEMU queues 8 requests. */
#define PROXY_QUEUE 8
/* Bytes of commands a client may have waiting to be sent (one more message goes over). */
#define PROXY_QUEUE_BYTES (1u << 20)
/* In-band commands of one client at QEMU: QEMU runs them one at a time, and a second one
 * there would only make the other clients wait longer. */
#define PROXY_CLIENT_INBAND 1
/* In-band commands of all clients at QEMU: one running and one ready to run. QEMU runs
 * the monitors' in-band commands in turn, one at a time, so the supervisor's own wait
 * for one of these at most; and far below 8, QEMU keeps reading for exec-oob. */
#define PROXY_INBAND 2

/* What became of one message from a client. */
enum pcmd_state {
	PCMD_WAITING, /* a command for QEMU, not sent yet */
	PCMD_SENT,    /* at QEMU, its reply due */
	PCMD_DONE     /* answered: the answer waits for those before it */
};

/* One message from a client, from when it is read until its answer is written. */
struct pcmd {
	TAILQ_ENTRY(pcmd) entry; /* in its client's queue */
	struct proxy *p;
	struct pclient *c;       /* NULL once the client left (a reply then is dropped) */
	enum pcmd_state state;
	bool oob;                /* exec-oob: sent at once, answered as soon as QEMU answers */
	char *text;              /* WAITING: the command as the client wrote it (len bytes) */
	size_t len;
	char *id;                /* the client's id as written, or NULL */
	char *answer;            /* DONE: the line to write */
	int fds[PEER_MAX_FDS];   /* passed to QEMU with it (getfd, add-fd) */
	size_t n_fds;
};

/* A client of qmp.sock. */
struct pclient {
	TAILQ_ENTRY(pclient) entry; /* in the proxy's clients */
	TAILQ_ENTRY(pclient) turn;  /* in the proxy's round, while in_round */
	struct proxy *p;
	struct peer *peer;
	struct qmp_reader *reader;
	TAILQ_HEAD(, pcmd) queue;   /* its messages not answered yet, in order */
	unsigned queued;            /* entries in queue */
	unsigned waiting;           /* of them, commands not sent yet */
	size_t waiting_bytes;       /* their text */
	unsigned inband;            /* its in-band commands at QEMU */
	bool in_round, negotiated, oob, reading;
};

struct proxy {
	struct event_base *base;
	struct listener *listener;
	struct qmp_client *qmp;
	const struct proxy_policy *policy;
	TAILQ_HEAD(, pclient) clients;
	TAILQ_HEAD(, pclient) round; /* clients with a command to send and room at QEMU, in turn */
	unsigned n;
	unsigned inband;             /* in-band commands at QEMU */
	unsigned sent;               /* commands at QEMU, in-band or not: their replies are due */
	struct pcmd *fds_cmd;        /* the command with descriptors at QEMU, or NULL */
	struct event *retry;         /* descriptors wait for QEMU to read what it was sent */
	bool closed;                 /* proxy_free was called: the last reply frees it */
};

/* proxy.c: adds an entry to the end of its client's queue. */
void pcmd_enqueue(struct pclient *c, struct pcmd *cmd);

/* proxy.c: the entry is answered (answer: the line, owned): it is written when its turn
 * comes, or at once for an out-of-band one. */
void pcmd_done(struct pcmd *cmd, char *answer);

/* proxy.c: the line of a reply (msg consumed) carrying the command's id, as written. */
char *proxy_line(struct json_object *msg, const char *id);

/* proxy.c: the line of a return reply (ret consumed; NULL: {}). */
char *proxy_return_line(struct json_object *ret, const char *id);

/* proxy.c: the line of an error reply. */
char *proxy_error_line(const char *id, const char *cls, const char *desc);

/* proxy.c: frees an entry that left its client's queue (or never joined one). */
void pcmd_free(struct pcmd *cmd);

/* proxy-command.c: one complete message from a client (item from its reader). */
void proxy_command(struct pclient *c, const struct qmp_item *item);

/* proxy-upstream.c: the client has a command waiting: it joins the round if it may send. */
void proxy_ready(struct pclient *c);

/* proxy-upstream.c: the client left: it leaves the round. */
void proxy_leave_round(struct pclient *c);

/* proxy-upstream.c: sends an out-of-band command (msg: the message read) at once. */
void proxy_send_oob(struct pcmd *cmd, struct json_object *msg);

/* proxy-upstream.c: sends the commands of the clients in the round, in turn, while QEMU has room. */
void proxy_dispatch(struct proxy *p);

/* proxy.c: reads the client's messages while its queue has room (and the client is not
 * being read already). */
void pclient_read_more(struct pclient *c);

/* proxy.c: frees a closed proxy once no reply is due any more. */
void proxy_release(struct proxy *p);

/* proxy-policy.c: why a protected VM refuses the command (name, the whole message cmd),
 * or NULL when it does not. */
const char *proxy_refusal(const struct proxy_policy *policy, const char *name, struct json_object *cmd);

#endif
