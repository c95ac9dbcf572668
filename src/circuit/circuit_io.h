/* SPDX-License-Identifier: MIT */
/*
 * The circuit layer of a daemon: one circuit core (circuit.h) wired to one link manager
 * (link.h) on the event loop.
 *
 *   relay roles : cells from links go to the core, the core's cells go to link_send_cell()
 *                 (a link over its write bound is reported blocked; on_drain unblocks it); the
 *                 core's link requests (EXTEND2 to a relay we have no link to) become an XK
 *                 connect with the link key the EXTEND2 carries (else the one the current
 *                 consensus lists for that identity), the link proving that identity, one
 *                 connect per relay however many circuits wait (circuit_pool.h); its
 *                 success or failure goes back to the core.
 *   client role : once the app's consensus is valid, keep circuits_prebuilt circuits built
 *                 through path_select() paths with the persistent guard set (path_guard.h,
 *                 kept in the app's store): an NK link to the guard, circ_client_build(),
 *                 the build timeout learnt from real build times (cbt.h), guard and relay
 *                 failures noted, a failed build retried on the next candidate with backoff,
 *                 closed circuits replaced.
 *   streams     : at an exit, BEGIN / RESOLVE / DATA go to stream_exit.h; a relay without
 *                 the exit role refuses BEGIN with END(EXITPOLICY). At a client,
 *                 circ_io_stream_open() puts a stream on a built circuit whose isolation
 *                 key matches (a fresh circuit is bound to the key of its first stream) and
 *                 whose exit's port summary allows the destination; without one it waits
 *                 for a circuit being built that serves it, or has one built for it, or
 *                 fails at once with EXITPOLICY when no exit of the consensus allows it. An
 *                 exit's END(EXITPOLICY / RESOLVEFAILED / TIMEOUT) to the BEGIN sends the
 *                 stream to another exit (3 exits at most; refusals of a port are remembered
 *                 for an hour). Streams use the flow control of stream_mux.h; when the
 *                 circuit dies its streams end with DESTROY. Pre-built circuits go through
 *                 exits serving the ports streams asked for lately (443 and 80 at first).
 *
 * The daemon forwards its link callbacks here (circ_io_link_*). Core calls re-entered from
 * link callbacks raised inside a core call (a link closing while a cell is sent) are deferred
 * to an ev_defer, as the core's send_cell contract requires.
 *
 * Ownership: the caller owns the struct circ_io (circ_io_new / circ_io_free); everything in
 * env is borrowed and must outlive it; relay keys are borrowed until the next
 * circ_io_set_keys(). Loop thread only.
 */
#ifndef UM_CIRCUIT_CIRCUIT_IO_H
#define UM_CIRCUIT_CIRCUIT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "store/store.h"
#include "link/link.h"
#include "directory/consensus.h"
#include "exit/exit_conn.h"
#include "circuit/circuit.h"
#include "circuit/path.h"

enum circ_io_limits {
	CIRC_IO_TICK_MS = 250,                 /* core timeouts and pool upkeep */
	CIRC_IO_PREBUILT_MAX = 16,             /* [client] circuits_prebuilt */
	CIRC_IO_STREAMS_MAX = 4096,            /* client streams open or waiting, all circuits */
	CIRC_IO_STREAM_TIMEOUT_MS = 60 * 1000, /* BEGIN / RESOLVE to the exit's answer */
	CIRC_IO_DIRTY_MS = 10 * 60 * 1000,     /* a circuit takes new streams this long after
	                                        * its first (Tor's MaxCircuitDirtiness) */
	CIRC_IO_ISO_MAX = 1024,                /* bytes of an isolation key */
	CIRC_IO_ISOLATED_MAX = 64,             /* circuits bound to keys at once */
};

/* The current consensus valid at now_s, or NULL (borrowed until the next loop turn). */
typedef const struct consensus *circ_io_consensus_fn(void *arg, uint64_t now_s);

struct circ_io_env {
	struct ev_loop *loop;
	struct link_mgr *links;
	const uint8_t *node_id; /* relay: our identity [32]; NULL: never a relay */
	bool client;            /* the client role: build circuits */
	unsigned circuits_prebuilt;
	uint8_t hops;          /* 2 or 3 */
	bool prefer_bonded;    /* [client] prefer_bonded (path.h) */
	struct store *store;   /* guard set; NULL: kept in memory only */
	struct exit_ctx *exit; /* relay with the exit role: opens streams; NULL: refuses them */
	circ_io_consensus_fn *consensus;
	void *arg;
	/* The core's circuit table cap ([relay] max_circuits); 0: CIRC_DEFAULT_MAX_CIRCUITS. */
	uint32_t max_circuits;
	/* A CREATE2 arrived on l (relay roles): false refuses it with DESTROY(RESOURCELIMIT)
	 * before any public-key work. NULL: no limit. Called with arg. */
	bool (*may_create)(void *arg, struct link *l);
	/* Client: a TOKEN body (PROTOCOL.md 17.5) for a circuit just built whose exit's identity
	 * is exit_id [32] (an identified token's proof is bound to it, 18.5), taken out of the
	 * wallet (UM_OK), or UM_ERR_NOT_FOUND to spend none. NULL: never. Called with arg. */
	int (*take_token)(void *arg, const uint8_t exit_id[32], uint8_t *body, size_t cap,
	                  size_t *len);
};

struct circ_io;

/*
 * Return a new circuit layer (caller frees with circ_io_free()). keys: the relay's identity
 * and onion keys (NULL for a client-only node). UM_ERR_INVALID for a bad env, or the guard
 * store's error, with why.
 */
int circ_io_new(const struct circ_io_env *env, const struct circ_relay_keys *keys,
                struct circ_io **out, char *why, size_t why_len) UM_WARN_UNUSED;
/* Free io (silently: no DESTROY, no callbacks). Close every client stream first (the front
 * ends are freed before this); the exit's streams are reset here. */
void circ_io_free_(struct circ_io *io);
#define circ_io_free(io) UM_FREE_AND_NULL(circ_io_free_, io)
/* Onion-key rotation: the relay's keys changed (borrowed until the next call). */
void circ_io_set_keys(struct circ_io *io, const struct circ_relay_keys *keys);
/* Shutdown begins: close every client circuit (DESTROY to its first hop) and build no more. */
void circ_io_shutdown(struct circ_io *io);

/* The link manager's callbacks (struct link_callbacks), forwarded by the daemon. */
void circ_io_link_open(struct circ_io *io, struct link *l);
void circ_io_link_cell(struct circ_io *io, struct link *l, const struct cell *c);
void circ_io_link_close(struct circ_io *io, struct link *l, int reason);
void circ_io_link_drain(struct circ_io *io, struct link *l);

/* ---- client streams ---- */

struct circ_io_stream;

/* What a stream asks for. */
struct circ_io_stream_req {
	uint8_t cmd;                /* RELAY_BEGIN (connect) or RELAY_RESOLVE */
	struct relay_target target; /* RESOLVE: a RELAY_HOST_NAME target, port ignored */
	uint32_t flags;             /* BEGIN flags (enum relay_begin_flags) */
	const uint8_t *iso;         /* isolation key (borrowed for the call); equal bytes share */
	size_t iso_len;             /* 0..CIRC_IO_ISO_MAX; 0: the "no key" key */
};

/* The exit's answer to the open. */
struct circ_io_stream_result {
	int status;        /* UM_OK: connected / resolved; else failed with reason */
	uint8_t reason;    /* failure: enum relay_end_reason (DESTROY when the circuit died,
	                    * TIMEOUT when the exit did not answer in time) */
	uint8_t addr_type; /* 0, RELAY_HOST_IPV4 or RELAY_HOST_IPV6: CONNECTED address, the
	                    * first RESOLVED address, or the address END(EXITPOLICY) named */
	uint8_t addr[16];
	bool resolve_transient; /* RESOLVE failure: the error answer was transient */
};

struct circ_io_stream_ops {
	/* The open finished (exactly once, never from inside circ_io_stream_open). For a
	 * RESOLVE the stream is over after it. */
	void (*on_open)(void *arg, const struct circ_io_stream_result *res);
	/* Stream data; return the bytes now queued toward the application. */
	size_t (*on_data)(void *arg, const uint8_t *p, size_t n);
	/* END from the exit: DONE = end of data (write an EOF); anything else, or DESTROY when
	 * the circuit died: abort (reset the application connection). DONE may be followed by
	 * one abort. */
	void (*on_end)(void *arg, uint8_t reason);
	/* circ_io_stream_writable() is true again. */
	void (*on_writable)(void *arg);
	/* Optional: our END(DONE) went out after the last buffered byte
	 * (circ_io_stream_finished() may have become true). */
	void (*on_end_sent)(void *arg);
	/* Optional: when the oldest byte still queued toward the application was queued
	 * (ev_now_ms() time, UINT64_MAX: none). A query: no calls back. With it, the bytes a
	 * circuit's streams hold toward their applications count for the circuit core's OOM
	 * rule by their age (docs/PROTOCOL.md 13.7). */
	uint64_t (*queued_since)(void *arg);
};

/*
 * Open a stream (client role): on a built circuit for req's isolation key, else once one is
 * built. The caller owns *out until circ_io_stream_close(). UM_ERR_STATE (not a client, or
 * shutting down), UM_ERR_TOO_LARGE (CIRC_IO_STREAMS_MAX), UM_ERR_INVALID (bad request).
 */
int circ_io_stream_open(struct circ_io *io, const struct circ_io_stream_req *req,
                        const struct circ_io_stream_ops *ops, void *arg,
                        struct circ_io_stream **out) UM_WARN_UNUSED;
/* Send application bytes (after on_open succeeded). UM_ERR_CLOSED once ended. */
int circ_io_stream_write(struct circ_io_stream *s, const uint8_t *p, size_t n) UM_WARN_UNUSED;
/* May more be read from the application now? */
bool circ_io_stream_writable(const struct circ_io_stream *s);
/* The application took n bytes of what on_data gave; buffered bytes are left (call it for
 * partial progress too: the circuit's SENDMEs wait while its streams hold over
 * SMUX_CIRC_RECV_MAX toward the applications). */
void circ_io_stream_drained(struct circ_io_stream *s, size_t n, size_t buffered);
/* The application sent EOF: END(DONE) after the buffered bytes (half-close). */
void circ_io_stream_shutdown(struct circ_io_stream *s);
/* END went both ways (ours actually sent): closing now loses nothing. */
bool circ_io_stream_finished(const struct circ_io_stream *s);
/*
 * Free s (NULL-safe; allowed inside its callbacks). A stream not ended both ways is aborted
 * first (END with reason, e.g. MISC or CONNRESET, toward the exit).
 */
void circ_io_stream_close(struct circ_io_stream *s, uint8_t reason);

/*
 * Client: start one more circuit now, beside the pre-built pool (Tor's EXTENDCIRCUIT 0; what
 * `umbra circuits build` and the benchmarks use): a fresh path from the current consensus
 * through the guard set. It shows in circ_io_foreach() once started and takes streams once
 * built, like any other. UM_OK when the build started; UM_ERR_STATE (not a client, shutting
 * down, no valid consensus) or UM_ERR_NOT_FOUND (no path, no guard) with why.
 */
int circ_io_build_now(struct circ_io *io, char *why, size_t why_len) UM_WARN_UNUSED;

/* ---- status (GET /v1/circuits) ---- */

struct circ_io_hop {
	uint8_t id[CIRC_ID_KEY_LEN];
	char nickname[RELAY_DESC_NICKNAME_MAX + 1];
	char country[RELAY_DESC_COUNTRY_LEN + 1];
};

struct circ_io_circ {
	uint64_t id;       /* circ_serial() */
	const char *state; /* "connecting" (link to the guard), "building", "built" */
	uint8_t n_hops;
	struct circ_io_hop hops[CIRC_MAX_HOPS];
	uint64_t build_ms; /* built: how long the build took */
	uint64_t build_us; /* the same in microseconds */
	uint64_t age_ms;   /* since the build started */
	uint32_t streams;  /* open streams on it */
	bool isolated;     /* bound to an isolation key (its first stream's) */
	uint64_t iso_tag;  /* an opaque number equal for circuits of the same key (tests) */
	/* Tier token: "none" (none spent), "sent" (no verdict yet), "accepted", "refused";
	 * tier is the exit's word (0 unless accepted). */
	const char *token;
	uint8_t tier;
};

struct circ_io_stats {
	bool client;
	unsigned prebuilt_target;
	uint64_t built, failed, closed; /* client circuits since start */
	uint32_t timeout_ms;            /* the current build timeout (cbt) */
	bool timeout_learned;
	struct circ_relay_counts relay; /* circuits we carry for others */
	struct circ_core_stats core;
	char last_error[PATH_WHY_LEN];           /* why the last build could not start or failed */
	uint64_t streams_opened, streams_failed; /* client streams */
	uint64_t streams_retried; /* put back on another exit after a refusal (15.4) */
	uint64_t streams_no_exit; /* failed at once: no exit of the consensus serves them */
	uint32_t streams_open, streams_waiting;
	uint32_t exit_streams;                    /* streams we carry as an exit */
	uint64_t tokens_accepted, tokens_refused; /* exits' verdicts on our tier tokens */
};

typedef void circ_io_circ_fn(void *arg, const struct circ_io_circ *info);
/* Every client circuit, oldest first. */
void circ_io_foreach(const struct circ_io *io, circ_io_circ_fn *fn, void *arg);
void circ_io_stats(const struct circ_io *io, struct circ_io_stats *st);

#endif /* UM_CIRCUIT_CIRCUIT_IO_H */
