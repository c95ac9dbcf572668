/* SPDX-License-Identifier: MIT */
/*
 * Node-to-node links over TCP: the public API of the link layer.
 *
 * A struct link_mgr owns listeners, every link, the persistent peers it keeps connected, and
 * the limits: at most max_links links, max_pending handshakes in flight and
 * max_pending_per_ip per source address; handshakes time out; open links send PADDING when
 * idle (keepalive), are closed when the peer falls silent, and (unless the peer is a
 * configured one) when no traffic but padding has flowed for idle_timeout. A link whose
 * write queue grows over write_queue_max is "blocked": producers hold off, and forwarding
 * layers pause reading the links that feed it until on_drain (backpressure). Any authentication
 * failure, malformed record or protocol violation closes only that link, with a rate-limited log
 * line; the manager goes on serving the others.
 *
 * Every function runs on the loop thread. A struct link pointer handed to a callback stays
 * valid until on_close for it returns; never keep it past that.
 */
#ifndef UM_LINK_LINK_H
#define UM_LINK_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "link/cell.h"
#include "link/handshake.h"

struct link_mgr;
struct link;

enum { LINK_PUZZLE_CAP_DEFAULT = 20 };

enum link_close_reason {
	LINK_CLOSE_LOCAL = 0,    /* closed by us on request */
	LINK_CLOSE_PEER,         /* the peer closed cleanly (LINK_CLOSE cell) */
	LINK_CLOSE_EOF,          /* TCP closed without a LINK_CLOSE cell */
	LINK_CLOSE_NET,          /* socket error or connect failure */
	LINK_CLOSE_HANDSHAKE,    /* handshake failed (bad key, certificate, framing) */
	LINK_CLOSE_HS_TIMEOUT,   /* handshake took longer than handshake_timeout */
	LINK_CLOSE_AUTH,         /* a record failed authentication */
	LINK_CLOSE_PROTOCOL,     /* the peer broke the link protocol */
	LINK_CLOSE_IDLE,         /* idle for idle_timeout */
	LINK_CLOSE_SILENT,       /* nothing received for 3 keepalive intervals */
	LINK_CLOSE_LIMIT,        /* over max_links / max_pending / max_pending_per_ip, or
	                          * the write queue's hard cap */
	LINK_CLOSE_UNKNOWN_PEER, /* accept = known and the initiator is not a configured peer */
	LINK_CLOSE_SHUTDOWN,     /* the node is shutting down */
	LINK_CLOSE_NONCE,        /* record counter exhausted: re-handshake */
	LINK_CLOSE_PUZZLE,       /* we asked a puzzle (inbound), or the one we were asked is over
	                          * our cap or was asked again (outbound) */
};

const char *link_close_reason_str(int reason);

struct link_mgr_config {
	uint32_t max_links;
	uint32_t max_pending;
	uint32_t max_pending_per_ip;
	uint64_t handshake_timeout_ms;
	uint64_t keepalive_ms;
	uint64_t idle_timeout_ms;
	uint64_t reconnect_ms;
	uint64_t write_queue_max;
	bool accept_known_only; /* inbound XK only from configured peers */
	unsigned accept;        /* enum link_hs_accept bits for inbound links */
	/* Source addresses of outgoing links, port 0 (ss_family 0 = the system's choice). */
	struct sockaddr_storage outbound4, outbound6;
};

struct link_callbacks {
	/* A link finished its handshake. */
	void (*on_open)(void *arg, struct link *l);
	/* A cell for the layers above (commands < 240, not PADDING). View valid during the call. */
	void (*on_cell)(void *arg, struct link *l, const struct cell *c);
	/* A link closed (opened or not); l is freed after this returns. */
	void (*on_close)(void *arg, struct link *l, int reason);
	/* A link that was blocked (link_is_blocked) drained to half its bound: producers and
	 * links paused on its account may resume. */
	void (*on_drain)(void *arg, struct link *l);
	/* An inbound connection from peer passed the manager's own limits; before any handshake
	 * work, false refuses it (closed at once, counted in refused_abuse). NULL admits all. */
	bool (*admit)(void *arg, const struct sockaddr_storage *peer);
	/* An admitted inbound connection left the handshake (it opened or closed). May be NULL. */
	void (*admit_done)(void *arg, const struct sockaddr_storage *peer);
	/* Client puzzles (PROTOCOL.md 2.2). puzzle_bits: the difficulty to ask of an inbound
	 * handshake now (0: none; read when its msg1 arrives). puzzle_cap: the most bits an
	 * outbound link solves when its responder asks (over it: the link fails). Either may be
	 * NULL: no puzzles asked; LINK_PUZZLE_CAP_DEFAULT. */
	unsigned (*puzzle_bits)(void *arg);
	unsigned (*puzzle_cap)(void *arg);
	void *arg;
};

/*
 * Return a new manager (caller owns it; free with link_mgr_free()). me is borrowed and must
 * outlive the manager. cb may be NULL.
 */
struct link_mgr *link_mgr_new(struct ev_loop *loop, const struct link_identity *me,
                              const struct link_mgr_config *cfg, const struct link_callbacks *cb);
/* Close every link (sending LINK_CLOSE where possible) and free the manager. */
void link_mgr_free_(struct link_mgr *m);
#define link_mgr_free(m) UM_FREE_AND_NULL(link_mgr_free_, m)
/*
 * Begin a graceful shutdown: stop listening and reconnecting, close every link cleanly
 * (LINK_CLOSE, flush, FIN). Keep running the loop until link_mgr_count() is 0 or a deadline.
 */
void link_mgr_shutdown(struct link_mgr *m);
/* Links not yet fully closed (any state). */
size_t link_mgr_count(const struct link_mgr *m);
/* Replace the limits (SIGHUP); open links keep running. */
void link_mgr_set_config(struct link_mgr *m, const struct link_mgr_config *cfg);
/* Listen on addr ("host:port"); *bound_port (may be NULL) receives the port. */
int link_mgr_listen(struct link_mgr *m, const char *addr, uint16_t *bound_port) UM_WARN_UNUSED;
/*
 * Keep an XK link to this peer up: connect now and reconnect with backoff after failures.
 * Re-adding a peer with the same identity updates it.
 */
int link_mgr_add_peer(struct link_mgr *m, const uint8_t id[LINK_ID_LEN],
                      const uint8_t link_key[X25519_KEY_LEN], const char *addr) UM_WARN_UNUSED;
/* Forget every configured peer (their open links stay until idle). */
void link_mgr_clear_peers(struct link_mgr *m);
/*
 * Open a one-off link with pattern LINK_PATTERN_XK or LINK_PATTERN_NK (anonymous) to addr.
 * expected_id may be NULL. *out (may be NULL) is valid until on_close for it.
 */
int link_mgr_connect(struct link_mgr *m, uint8_t pattern, const uint8_t *expected_id,
                     const uint8_t link_key[X25519_KEY_LEN], const char *addr,
                     struct link **out) UM_WARN_UNUSED;
/* An open link whose authenticated peer has this identity, or NULL. */
struct link *link_mgr_find(struct link_mgr *m, const uint8_t id[LINK_ID_LEN]);

/*
 * Queue a cell (UM_ERR_STATE unless open). Never blocks; see link_is_blocked(). A producer
 * that ignores it and lets the queue pass the hard cap (2 x write_queue_max + one read) gets
 * the link closed (LINK_CLOSE_LIMIT) and UM_ERR_CLOSED.
 */
int link_send_cell(struct link *l, const struct cell *c) UM_WARN_UNUSED;
/* True while the write queue is over write_queue_max: producers should hold off. */
bool link_is_blocked(const struct link *l);
/*
 * Backpressure for layers that forward cells: stop reading l (e.g. because the link its cells
 * go to is blocked) and resume later (from on_drain). Reading never stops on its own: a link
 * whose own queue is full keeps reading, so two peers sending to each other cannot deadlock.
 */
void link_pause_reading(struct link *l);
void link_resume_reading(struct link *l);
/* Close cleanly: send LINK_CLOSE, flush, FIN; on_close follows. */
void link_close(struct link *l, int reason);
uint64_t link_id(const struct link *l);
/* True when the peer connected to us. */
bool link_is_inbound(const struct link *l);
/* An open link whose peer proved an identity (XK): copy it to id and return true; false for
 * an anonymous (NK) initiator or a link not open. */
bool link_peer_id(const struct link *l, uint8_t id[LINK_ID_LEN]);
/* The address at the other end of the TCP connection. */
void link_peer_addr(const struct link *l, struct sockaddr_storage *out);

/* Diagnostic bulk transfer over one link ("umbra link test"). */
struct link_test_info {
	bool active;        /* running */
	bool done;          /* finished (END sent / received) */
	bool verified;      /* rx only: byte count and SHA-256 matched the sender's */
	bool peer_reported; /* tx only: the receiver sent its result back */
	bool peer_verified; /* tx only: ... and it said the bytes and digest matched */
	uint64_t bytes;     /* payload bytes sent or received */
	uint64_t target;
	uint64_t start_ms, end_ms;
	uint8_t sha256[32]; /* of the payload bytes, when done */
};

/*
 * Send bytes (rounded up to whole cells) of pseudo-random payload to the open link with peer
 * id, then a LINK_TEST_END carrying the count and SHA-256 (hash = false: an all-zero digest
 * and no hashing, for benchmarks). UM_ERR_NOT_FOUND if no such link, UM_ERR_STATE if a test
 * is already running on it.
 */
int link_mgr_test_start(struct link_mgr *m, const uint8_t id[LINK_ID_LEN], uint64_t bytes,
                        bool hash) UM_WARN_UNUSED;

struct link_info {
	uint64_t id;
	bool inbound;
	bool persistent;
	uint8_t pattern;   /* LINK_PATTERN_* (0 before the responder knows) */
	const char *state; /* "connecting", "handshake", "open", "closing" */
	bool peer_identified;
	uint8_t peer_id[LINK_ID_LEN];
	char peer_addr[EV_ADDR_STRLEN];
	uint64_t age_ms;
	uint64_t cells_tx, cells_rx;
	uint64_t rekeys_tx, rekeys_rx;
	uint64_t handshake_us; /* connect (or accept) to handshake completion */
	size_t write_queue;
	bool reading;
	struct link_test_info test_tx, test_rx;
};

struct link_mgr_stats {
	uint64_t links; /* current, any state */
	uint64_t open;
	uint64_t pending;
	uint64_t accepted;      /* inbound TCP connections accepted */
	uint64_t refused_limit; /* refused before any handshake work */
	uint64_t refused_abuse; /* refused by the admit callback (rate limits, bans) */
	uint64_t handshakes_ok; /* completed, both directions */
	uint64_t handshakes_failed;
	uint64_t auth_failures; /* records that failed authentication */
	uint64_t protocol_errors;
	uint64_t cert_cache_hits;
	/* Puzzles we ask (responder): handshakes whose solution passed; challenged without a
	 * solution; challenged after a bad one (stale seed, too few bits, replayed). A
	 * challenged handshake does no public-key work. */
	uint64_t puzzles_passed;
	uint64_t puzzles_asked;
	uint64_t puzzles_failed;
	/* Puzzles we were asked (initiator): solved (and redialled), refused (over the cap or
	 * asked again too often), and the milliseconds spent solving. */
	uint64_t puzzles_solved;
	uint64_t puzzles_refused;
	uint64_t puzzle_solve_ms;
};

typedef void link_info_fn(void *arg, const struct link_info *info);
void link_mgr_foreach(struct link_mgr *m, link_info_fn *fn, void *arg);
void link_mgr_stats(const struct link_mgr *m, struct link_mgr_stats *st);

#endif /* UM_LINK_LINK_H */
