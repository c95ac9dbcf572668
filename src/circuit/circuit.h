/* SPDX-License-Identifier: MIT */
/*
 * The circuit core, sans-I/O (docs/PROTOCOL.md section 13): relay-side cell switching (any
 * relay: entry, middle, exit) and client-side circuit building, for one node.
 *
 *   cells in:   circ_core_cell_in(core, link, cell, now)     from the link the cell came on
 *   links:      circ_core_link_add / _closed / _failed / _blocked   what the link layer did
 *   time:       circ_core_tick(core, now), circ_core_next_deadline(core)
 *   out:        ops->send_cell(arg, link, cell)               a cell to send on a link
 *               ops->on_event(arg, ev)                        built / failed / closed, relay
 *                                                             messages up, link requests
 *
 * A link is named by an opaque struct circ_link pointer that the caller chooses (the glue
 * passes its struct link *; the tests an in-memory queue). The core never dereferences it; it
 * only keeps it as a key, from circ_core_link_add() until circ_core_link_closed().
 *
 *   client                  entry                   middle                  exit
 *   CREATE2 ------------->  ntor server
 *           <------------- CREATED2
 *   RELAY_EARLY{EXTEND2}->  recognized: EXTEND2 -> link to middle, CREATE2 ------>
 *                                           <---------------------------------- CREATED2
 *           <------------- RELAY{EXTENDED2}
 *   ... the same through the entry to the middle, for the exit ...
 *   RELAY(_EARLY){msg} ->  not ours: pass on ->  not ours: pass on ->  ours: EV_EXIT_MSG
 *
 * Ownership: the caller owns the core (circ_core_new / circ_core_free). The core owns every
 * circuit; a struct circuit pointer handed out (events, circ_client_build) stays valid until
 * the CIRC_EV_CLOSED or CIRC_EV_FAILED event for it returns. Event data views (ev->data,
 * ev->target) live during the callback only.
 *
 * Reentrancy: ops callbacks may call back into the core (send a message, close a circuit,
 * report a link); circuits closed meanwhile are freed when the outermost core call returns.
 * Not thread-safe: call from the loop thread only.
 */
#ifndef UM_CIRCUIT_CIRCUIT_H
#define UM_CIRCUIT_CIRCUIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "crypto/keys.h"
#include "link/cell.h"
#include "directory/relay_entry.h"
#include "circuit/cell_msg.h"
#include "circuit/relay_msg.h"

struct circ_core;
struct circuit;
struct circ_link; /* the caller's link handle: never dereferenced here */

enum circ_limits {
	CIRC_MAX_HOPS = 3,        /* a client path: 1..3 relays */
	CIRC_RELAY_EARLY_MAX = 8, /* RELAY_EARLY cells a client sends; a relay takes <= 8 */
	CIRC_ID_KEY_LEN = 32,     /* Ed25519 identity (= LINK_ID_LEN) */
	CIRC_DEFAULT_MAX_CIRCUITS = 65536,
	CIRC_DEFAULT_QUEUE_PER_CIRC = 1024, /* > the 1000-cell circuit window */
	CIRC_DEFAULT_QUEUE_TOTAL = 262144,  /* ~135 MB of queued cells relay-wide */
	CIRC_DEFAULT_BUILD_TIMEOUT_MS = 60000,
	CIRC_DEFAULT_EXTEND_TIMEOUT_MS = 30000,
};

struct circ_config {
	uint32_t max_circuits;       /* circuits in the table (all roles); CREATE2 over it is
	                              * answered DESTROY(RESOURCELIMIT) */
	uint32_t max_queue_per_circ; /* cells queued for one blocked link on one circuit end;
	                              * over it the circuit is closed (RESOURCELIMIT) */
	uint32_t max_queue_total;    /* cells queued relay-wide; over it the circuits with the
	                              * oldest queued cells are closed (Tor's OOM rule) */
	uint64_t build_timeout_ms;   /* client: whole build */
	uint64_t extend_timeout_ms;  /* relay: EXTEND2 to CREATED2 */
};

/* Fill cfg with the defaults above. */
void circ_config_default(struct circ_config *cfg);

enum circ_event_type {
	CIRC_EV_BUILT = 1,    /* client: every hop answered; circ is open */
	CIRC_EV_FAILED,       /* client: the build failed (reason); circ is freed after */
	CIRC_EV_CLOSED,       /* an open circuit (any role) closed (reason); freed after */
	CIRC_EV_MSG,          /* client: relay message from hop `hop` (1-based) */
	CIRC_EV_EXIT_MSG,     /* relay: a relay message addressed to us (stream layer) */
	CIRC_EV_LINK_REQUEST, /* relay: get a link to target (answer with circ_core_link_add
	                       * for the peer identity, or circ_core_link_failed) */
};

struct circ_event {
	enum circ_event_type type;
	struct circuit *circ; /* NULL for LINK_REQUEST */
	void *user;           /* client circuits: the user pointer given at build */
	uint8_t reason;       /* FAILED / CLOSED: enum circ_destroy_reason */
	bool remote;          /* FAILED / CLOSED: DESTROY or TRUNCATED came from the network */
	uint8_t hop;          /* MSG */
	uint8_t cmd;          /* MSG / EXIT_MSG: relay command (stream rule checked) */
	uint16_t stream_id;
	const uint8_t *data; /* MSG / EXIT_MSG: the message's Data (view), len bytes */
	size_t len;
	/* MSG / EXIT_MSG: the cell's relay-crypto Digest field [RELAY_DIGEST_LEN] (view), what
	 * an authenticated SENDME for a DATA cell echoes (docs/PROTOCOL.md 14.3) */
	const uint8_t *digest;
	/* LINK_REQUEST: identity (ed25519_id) and addresses of the relay to reach. Open an XK
	 * link that proves that identity, with the link key the EXTEND2 gives (has_link_key),
	 * else the one our consensus gives for it. */
	const struct relay_extend2 *target;
};

struct circ_ops {
	/* Send c on link l (c is read during the call only). Return UM_OK, or an error if the
	 * link is gone (the cell is dropped; circ_core_link_closed() is expected to follow).
	 * It must not call into the core, except circ_core_link_blocked(core, l, true): report
	 * a link closing from a deferred callback. */
	int (*send_cell)(void *arg, struct circ_link *l, const struct cell *c);
	void (*on_event)(void *arg, const struct circ_event *ev);
	void *arg;
	/* A CREATE2 arrived on l: false refuses it with DESTROY(RESOURCELIMIT) before any
	 * public-key work (entry abuse control). NULL: every CREATE2 may proceed. */
	bool (*may_create)(void *arg, struct circ_link *l);
};

/*
 * The node's relay identity and onion keys (CREATE2). node_id may be NULL for a client-only
 * node (then CREATE2 is refused with DESTROY(PROTOCOL)). onion_keys[0..n) is the current key
 * and, during its grace period, the previous one (1..NTOR_MAX_ONION_KEYS); borrowed: they
 * must outlive the core or the next circ_core_set_keys().
 */
struct circ_relay_keys {
	const uint8_t *node_id; /* Ed25519 identity public key [32] */
	const struct keys_x25519 *onion_keys;
	size_t n_onion_keys;
};

/*
 * Return a new core (the caller owns it; free with circ_core_free(), which frees every
 * circuit without sending anything or raising events). cfg and ops are copied; keys may be
 * NULL (client only).
 */
struct circ_core *circ_core_new(const struct circ_config *cfg, const struct circ_ops *ops,
                                const struct circ_relay_keys *keys);
void circ_core_free_(struct circ_core *core);
#define circ_core_free(c) UM_FREE_AND_NULL(circ_core_free_, c)
/* Replace the relay keys (onion-key rotation). */
void circ_core_set_keys(struct circ_core *core, const struct circ_relay_keys *keys);

/*
 * An open link: we_initiated tells whether we opened it (our CircIDs then carry the top bit);
 * peer_id is the Ed25519 identity the peer proved (XK), NULL for an anonymous peer (NK).
 * Pending EXTEND2s waiting for that identity proceed on it. UM_ERR_EXISTS if l is known.
 */
int circ_core_link_add(struct circ_core *core, struct circ_link *l, bool we_initiated,
                       const uint8_t *peer_id, uint64_t now) UM_WARN_UNUSED;
/* The link closed: every circuit on it is destroyed (DESTROY(CHANNEL_CLOSED) to the other
 * side) and l is forgotten. Unknown l: nothing. */
void circ_core_link_closed(struct circ_core *core, struct circ_link *l, uint64_t now);
/* The link to identity (a CIRC_EV_LINK_REQUEST) could not be opened or did not prove that
 * identity: the circuits waiting for it are destroyed (reason, e.g. CONNECTFAILED). */
void circ_core_link_failed(struct circ_core *core, const uint8_t identity[CIRC_ID_KEY_LEN],
                           uint8_t reason, uint64_t now);
/* link_is_blocked() changed for l. Going unblocked sends the queued cells for l (round
 * robin over circuits) until it blocks again. */
void circ_core_link_blocked(struct circ_core *core, struct circ_link *l, bool blocked,
                            uint64_t now);

/*
 * A cell came on link l (a circuit-layer command; the view is read during the call only).
 * Never fails: a bad cell destroys its circuit (or is dropped when it names none).
 */
void circ_core_cell_in(struct circ_core *core, struct circ_link *l, const struct cell *c,
                       uint64_t now);

/* Run timeouts (build, extend). */
void circ_core_tick(struct circ_core *core, uint64_t now);
/* The earliest deadline, or UINT64_MAX when none. */
uint64_t circ_core_next_deadline(const struct circ_core *core);

struct circ_core_stats {
	size_t circuits;     /* in the table (any state) */
	size_t links;        /* known links */
	size_t queued_cells; /* relay-wide, stream_cells included */
	size_t stream_cells; /* stream bytes toward sockets, as cells (circ_set_stream_backlog) */
	uint64_t created;    /* CREATE2 answered */
	uint64_t destroyed;  /* circuits closed, any reason */
	uint64_t oom_killed; /* closed by the queue cap */
	uint64_t protocol;   /* closed for a protocol violation */
	uint64_t ignored;    /* cells dropped: unknown CircID, refused CREATE2, ... */
};
void circ_core_stats(const struct circ_core *core, struct circ_core_stats *st);

/* Live relay circuits (not ours) by the position we hold on them: entry (the previous hop is
 * an anonymous client link), exit (nothing after us), else middle. */
struct circ_relay_counts {
	size_t entry, middle, exit;
};
void circ_core_relay_counts(const struct circ_core *core, struct circ_relay_counts *out);

/*
 * Close circ (any role): DESTROY(reason) to both sides, CIRC_EV_CLOSED (or FAILED while
 * building) with remote = false. Safe from inside an event callback.
 */
void circ_close(struct circ_core *core, struct circuit *circ, uint8_t reason, uint64_t now);
/* An internal id for logs (no relation to CircIDs). */
uint64_t circ_serial(const struct circuit *circ);

/*
 * Relay (exit side): send a relay message originated at us back toward the client on circ
 * (a circuit that raised CIRC_EV_EXIT_MSG). UM_ERR_INVALID (bad message), UM_ERR_STATE (not a
 * relay circuit, or closed), UM_ERR_TOO_LARGE (relay-crypto counter spent: circ closed).
 */
int circ_relay_send(struct circ_core *core, struct circuit *circ, uint8_t cmd, uint16_t stream_id,
                    const uint8_t *data, size_t len, uint64_t now) UM_WARN_UNUSED;

/*
 * Client: build a circuit through path[0..n_hops) (1..CIRC_MAX_HOPS relays, borrowed for the
 * call): CREATE2 to path[0] over l (a link we opened to it, added with circ_core_link_add),
 * then EXTEND2 for each next hop. *out (may be NULL) receives the circuit; CIRC_EV_BUILT or
 * CIRC_EV_FAILED follows later (FAILED comes from inside this call only if queueing the CREATE2
 * trips the queue caps of 12.7). UM_ERR_INVALID (bad path, a relay after the first with
 * no address), UM_ERR_NOT_FOUND (unknown link), UM_ERR_TOO_LARGE (max_circuits reached),
 * UM_ERR_EXISTS (no free CircID on l).
 */
int circ_client_build(struct circ_core *core, struct circ_link *l,
                      const struct relay_entry *const *path, size_t n_hops, void *user,
                      uint64_t now, struct circuit **out) UM_WARN_UNUSED;
/*
 * Client: send a relay message to hop (1..n_hops; normally the last) of an open circuit.
 * The first CIRC_RELAY_EARLY_MAX cells for hops past the first (EXTEND2s included) go as
 * RELAY_EARLY. UM_ERR_STATE (not built, closed), UM_ERR_INVALID (bad hop or message),
 * UM_ERR_TOO_LARGE (relay-crypto counter spent: circ closed).
 */
int circ_client_send(struct circ_core *core, struct circuit *circ, size_t hop, uint8_t cmd,
                     uint16_t stream_id, const uint8_t *data, size_t len,
                     uint64_t now) UM_WARN_UNUSED;
/* Client: hops built so far (n_hops once CIRC_EV_BUILT). */
size_t circ_client_hops(const struct circuit *circ);

/*
 * The Digest of the last relay message we originated on circ: at a relay toward the client
 * (circ_relay_send; hop is ignored), at a client toward hop (1..n_built, circ_client_send).
 * What the peer's authenticated SENDME for that cell must echo. UM_ERR_STATE for a closed
 * circuit, UM_ERR_INVALID for a bad hop.
 */
int circ_sent_digest(const struct circuit *circ, size_t hop,
                     uint8_t out[RELAY_DIGEST_LEN]) UM_WARN_UNUSED;
/*
 * Cells queued on circ for the link toward the stream peer (a client: toward hop 1; a relay:
 * toward the client), waiting for that link to unblock. The stream layer stops packaging
 * data well below max_queue_per_circ, where the core would close the circuit.
 */
size_t circ_queue_len(const struct circuit *circ);
/*
 * One pointer for the layer above at a relay circuit (the exit's stream state; a client
 * circuit has the build's user pointer instead). NULL until set; the owner clears what it
 * points to on CIRC_EV_CLOSED.
 */
void circ_set_stream_user(struct circuit *circ, void *p);
void *circ_stream_user(const struct circuit *circ);
/* A relay circuit that ends here: nothing after us and no EXTEND2 pending (we are the exit
 * of it). False for a client circuit. */
bool circ_is_last_hop(const struct circuit *circ);
/*
 * The stream layer holds bytes of circ's streams toward their sockets (an exit: the
 * destinations'; a client: the applications'): bytes in all, the oldest of them queued at
 * oldest_ms (the core's clock; ignored when bytes is 0). Replaces the previous report. They
 * count for max_queue_total as the DATA cells they came in (ceil(bytes / RELAY_DATA_MAX)),
 * and their age for the OOM rule, as queued cells do (docs/PROTOCOL.md 13.7). Going over
 * the cap runs the OOM rule at once: circuits may close inside this call, circ included
 * (CIRC_EV_CLOSED). No-op on a closed circuit.
 */
void circ_set_stream_backlog(struct circ_core *core, struct circuit *circ, size_t bytes,
                             uint64_t oldest_ms, uint64_t now);

#endif /* UM_CIRCUIT_CIRCUIT_H */
