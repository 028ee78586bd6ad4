/* A connected client of one of the supervisor's sockets (ctl.sock, qmp.sock), kept the
 * way tmux's proc.c keeps its peers. The peer owns the socket (read with recvmsg, written
 * through a bufferevent) and bounds what the client may make the supervisor hold: input
 * read ahead (reading pauses at the limit), descriptors passed along (SCM_RIGHTS: those of
 * the last few reads, for a type that takes them) and output the client is not draining
 * (the output beyond the largest message in it: past the limit the client is dropped,
 * never waited for, while a single large message reaches a client that reads). A client
 * that hangs up is lost at once, even while its input is not being read. A peer ends in
 * exactly one way: its type's lost callback runs once, with the reason (EOF, I/O error,
 * overflow or shutdown), and the peer is "gone" from then on: writes to it are dropped. Its memory, with the owner's data inside, lives on while
 * references remain, so a callback may drop the peer its caller is still using, and a
 * reply that comes after the client left finds it gone rather than freed. */
#ifndef VMM_PEER_H
#define VMM_PEER_H

#include <stdbool.h>
#include <stddef.h>

#include <event2/event.h>

struct peer;

/* Descriptors kept from one read at most (more are closed). */
#define PEER_MAX_FDS 8

/* Why a peer was lost. */
enum peer_lost {
	PEER_EOF,      /* the client hung up */
	PEER_ERROR,    /* the socket failed */
	PEER_OVERFLOW, /* it did not read its output, or sent what its owner will not hold */
	PEER_SHUTDOWN  /* its owner closed it */
};

/* What kind of client a peer is: its owner's data and callbacks, and its limits. */
struct peer_type {
	size_t data_size;  /* bytes of owner's data kept with the peer (peer_data) */
	size_t max_input;  /* unread input at which reading pauses; 0: no limit */
	size_t max_output; /* unwritten output, beyond the largest message in it, past which the peer is lost */
	bool fds;          /* it takes descriptors passed with SCM_RIGHTS (peer_take_fds) */
	/* Input arrived (in peer_input). */
	void (*read)(struct peer *p, void *data);
	/* The peer is gone: the one way it ends, run once. */
	void (*lost)(struct peer *p, enum peer_lost why, void *data);
	/* Releases what data holds when the last reference goes; may be NULL. */
	void (*free)(void *data);
};

/* Adopts a connected socket (owned) as a peer of the given type, with zeroed data. */
struct peer *peer_new(struct event_base *base, int fd, const struct peer_type *type);

/* The owner's data kept with the peer. */
void *peer_data(struct peer *p);

/* The bytes the client sent and the owner has not consumed yet (while not gone). */
struct evbuffer *peer_input(struct peer *p);

/* Takes the descriptors (PEER_MAX_FDS at most) of the last read that brought some and began
 * before stream offset `before` (bytes read before it); those of earlier reads are closed.
 * Returns how many; the caller owns them. */
size_t peer_take_fds(struct peer *p, size_t before, int *fds);

/* Queues one message; a peer whose output grows past its limit is lost (PEER_OVERFLOW). */
void peer_printf(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Queues one message of len bytes, as peer_printf does. */
void peer_write(struct peer *p, const void *data, size_t len);

/* Writes what is queued, blocking (a second at most without progress): for the last
 * replies before the socket closes. */
void peer_flush(struct peer *p);

/* Closes the peer and runs its lost callback, unless it is gone already. */
void peer_drop(struct peer *p, enum peer_lost why);

/* True once the peer was lost. */
bool peer_gone(const struct peer *p);

/* Keeps the peer's memory (not its connection) until peer_unref. */
void peer_ref(struct peer *p);

/* Drops a reference; the last frees the peer. */
void peer_unref(struct peer *p);

#endif
