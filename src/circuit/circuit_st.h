/* SPDX-License-Identifier: MIT */
/*
 * Private state of the circuit core (circuit.h), shared by circuit.c (tables, queues,
 * teardown), circuit_relay.c (switching, CREATE2, EXTEND2) and circuit_client.c (building).
 * Unit tests include it to measure the per-circuit state.
 *
 * A circuit has two ends: prev (toward the client; absent at the client itself) and next
 * (away from it; absent at the last hop). Each present end is in the core's table under
 * (link, CircID) and on its link's list, and holds the cells waiting for that link while it
 * is blocked.
 */
#ifndef UM_CIRCUIT_CIRCUIT_ST_H
#define UM_CIRCUIT_CIRCUIT_ST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/list.h"
#include "crypto/ntor.h"
#include "circuit/circuit.h"
#include "circuit/relay_crypto.h"

struct circ_lrec; /* a link known to the core */

/* A cell waiting for a blocked link. */
struct circ_qcell {
	struct circ_qcell *next;
	uint64_t enq_ms; /* when queued (OOM rule: oldest first) */
	struct cell cell;
};

struct circ_end {
	struct circ_lrec *link; /* NULL: this end is absent */
	struct circ_end *hnext; /* table bucket chain */
	struct list_node lnode; /* on link->ends */
	struct circ_qcell *qhead, *qtail;
	uint32_t circ_id;
	uint32_t qlen;
	bool is_next; /* this is circuit.next (else circuit.prev) */
};

enum circ_state {
	CIRC_S_OPEN = 1,    /* relay: answered CREATE2; client: built */
	CIRC_S_EXT_LINK,    /* relay: EXTEND2 waiting for a link to the target */
	CIRC_S_EXT_CREATED, /* relay: CREATE2 sent on, waiting for CREATED2 */
	CIRC_S_BUILDING,    /* client: waiting for CREATED2 / EXTENDED2 */
	CIRC_S_CLOSED,      /* unlinked, waiting to be freed */
};

/* Relay: an EXTEND2 in progress (allocated only while extending). */
struct circ_extend {
	struct relay_extend2 req; /* target and the CREATE2 to send there */
};

struct circ_hop_info {
	uint8_t identity[CIRC_ID_KEY_LEN];
	uint8_t onion_key[NTOR_KEY_LEN];
	uint8_t link_key[RELAY_LS_LINK_KEY_LEN]; /* sent in EXTEND2 (docs/PROTOCOL.md 11.6) */
	bool has_ipv4, has_ipv6;
	uint8_t ipv4[4], ipv6[16];
	uint16_t ipv4_port, ipv6_port;
};

/* Client (origin) circuits only. */
struct circ_client {
	struct relay_crypto *hops[CIRC_MAX_HOPS];
	struct circ_hop_info path[CIRC_MAX_HOPS];
	struct ntor_client_state ntor; /* pending handshake with hop n_built + 1 */
	void *user;
	uint8_t n_hops, n_built;
	uint8_t early_left; /* RELAY_EARLY cells we may still send */
};

struct circuit {
	struct circ_end prev, next;
	struct relay_crypto *rc; /* relay: our hop's layer (NULL at the client) */
	struct circ_client *cl;  /* client: NULL at a relay */
	struct circ_extend *ext; /* relay: pending EXTEND2 */
	void *stream_user;       /* relay: the stream layer's state (circ_set_stream_user) */
	struct list_node node;   /* core->circs, or core->dead once closed */
	struct list_node tnode;  /* core->timed while a deadline runs */
	uint64_t serial;
	uint64_t deadline_ms;
	/* Bytes the stream layer holds for this circuit toward its sockets, as the DATA cells
	 * they came in (circ_set_stream_backlog): counted in core->queued for the OOM rule,
	 * with the time the oldest of them was queued. */
	uint32_t stream_cells;
	uint64_t stream_since_ms;
	uint8_t state;    /* enum circ_state */
	uint8_t early_in; /* relay: forward RELAY_EARLY cells received */
};

/* A link known to the core (between circ_core_link_add and circ_core_link_closed). */
struct circ_lrec {
	struct circ_link *handle;
	struct circ_lrec *hnext; /* table bucket chain */
	struct list_node ends;   /* struct circ_end.lnode of every circuit end on it */
	uint64_t serial;         /* hashed with CircIDs (a stable number for the link) */
	bool initiator;          /* we opened it: our CircIDs carry the top bit */
	bool blocked;
	bool flushing;
	bool has_peer_id;
	uint8_t peer_id[CIRC_ID_KEY_LEN];
};

struct circ_core {
	struct circ_config cfg;
	struct circ_ops ops;
	bool has_node_id;
	uint8_t node_id[CIRC_ID_KEY_LEN];
	const struct keys_x25519 *onion_keys; /* borrowed */
	size_t n_onion_keys;
	/* (link, CircID) -> end: chained, keyed BLAKE2b so peers cannot aim at one bucket. */
	struct circ_end **ctab;
	size_t ctab_n; /* power of two */
	size_t n_ends;
	uint8_t hkey[16];
	/* handle -> link */
	struct circ_lrec **ltab;
	size_t ltab_n;
	size_t n_links;
	struct list_node circs; /* live circuits */
	struct list_node timed; /* circuits with a deadline */
	struct list_node dead;  /* closed, freed when the outermost call returns */
	size_t n_circs;
	size_t queued;       /* cells queued on every end, plus every circuit's stream_cells */
	size_t stream_cells; /* ... of which stream_cells */
	uint64_t next_serial, next_link_serial;
	int depth; /* nesting of public calls (callbacks may re-enter) */
	struct circ_core_stats st;
};

/* circuit.c: shared internals. */
void circ_enter(struct circ_core *core);
void circ_leave(struct circ_core *core);
void circ_emit(struct circ_core *core, const struct circ_event *ev);
struct circuit *circ_new(struct circ_core *core);
struct circuit *circ_of_end(struct circ_end *e);
struct circ_lrec *circ_link_find(const struct circ_core *core, const struct circ_link *l);
struct circ_lrec *circ_link_find_peer(const struct circ_core *core,
                                      const uint8_t id[CIRC_ID_KEY_LEN]);
struct circ_end *circ_table_find(const struct circ_core *core, const struct circ_lrec *lr,
                                 uint32_t circ_id);
void circ_end_attach(struct circ_core *core, struct circ_end *e, struct circ_lrec *lr,
                     uint32_t circ_id);
/* Pick a free CircID for a new circuit on lr (UM_ERR_EXISTS when none found). */
int circ_pick_id(struct circ_core *core, struct circ_lrec *lr, uint32_t *out) UM_WARN_UNUSED;
/* Send c (circ_id filled in here) on end e, or queue it while e's link is blocked. May close
 * circ (queue over its cap) or others (OOM rule): callers check circ->state afterwards. */
void circ_end_send(struct circ_core *core, struct circuit *circ, struct circ_end *e, struct cell *c,
                   uint64_t now);
/* Send DESTROY(reason) on e and remove it (the circuit lives on without that side). */
void circ_end_drop(struct circ_core *core, struct circ_end *e, uint8_t reason);
void circ_set_deadline(struct circ_core *core, struct circuit *circ, uint64_t deadline);
void circ_clear_deadline(struct circuit *circ);
/*
 * Tear circ down: DESTROY(reason) on each present end except skip (the side the teardown came
 * from, or NULL), an event (FAILED while a client circuit builds, else CLOSED), then unlink
 * it; it is freed later. No-op on a closed circuit.
 */
void circ_kill(struct circ_core *core, struct circuit *circ, uint8_t reason, bool remote,
               struct circ_end *skip, uint64_t now);

/* circuit_relay.c */
void circ_relay_create2(struct circ_core *core, struct circ_lrec *lr, const struct cell *c,
                        uint64_t now);
void circ_relay_from_prev(struct circ_core *core, struct circuit *circ, const struct cell *c,
                          uint64_t now);
void circ_relay_from_next(struct circ_core *core, struct circuit *circ, const struct cell *c,
                          uint64_t now);
/* A link to lr's peer is open: continue every EXTEND2 waiting for it. */
void circ_relay_link_ready(struct circ_core *core, struct circ_lrec *lr, uint64_t now);

/* circuit_client.c */
void circ_client_from_next(struct circ_core *core, struct circuit *circ, const struct cell *c,
                           uint64_t now);
/* Wipe and free a client state (NULL-safe). */
void circ_client_state_free(struct circ_client *cl);

#endif /* UM_CIRCUIT_CIRCUIT_ST_H */
