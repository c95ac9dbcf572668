/* SPDX-License-Identifier: MIT */
/*
 * The exit's stream layer (docs/PROTOCOL.md sections 10.5 and 15): the relay messages a
 * client addresses to us on a circuit where we are the last hop.
 *
 *   TOKEN    -> the exit's token verifier (exit_ctx_tokens(), trust/token_verifier.h) ->
 *               TOKEN_ACK(status, tier); accepted: the circuit's tier is the token's (one
 *               token per circuit; docs/PROTOCOL.md 17.5). Only on a circuit that ends here
 *               (circ_is_last_hop()); elsewhere it is dropped.
 *   BEGIN    -> exit_conn_open() at the circuit's tier (tier rules, require_token: 17.6)
 *               -> CONNECTED (address, TTL) | END(reason [, address])
 *   RESOLVE  -> exit_resolve()   -> RESOLVED (answers | error answer; an error answer
 *               without a lookup when the tier may open nothing: exit_ctx_tier_may_resolve())
 *   DATA     <-> the destination's TCP socket, through the circuit's stream_mux.h (windows,
 *                SENDMEs, XON/XOFF); bytes counted with exit_ctx_count_bytes()
 *   END(DONE) from the client -> FIN to the destination, keep reading it (half-close);
 *   EOF from the destination  -> END(DONE) after its last byte; the stream is over when both
 *                                went and the destination took our last byte, or it took
 *                                nothing for STREAM_EXIT_DRAIN_TIMEOUT_MS (then reset); any
 *                                other END, or a socket error -> reset (RST) and
 *                                END(CONNRESET / the reason); a local failure -> END(reason)
 *
 * Bytes queued toward the destinations count, per circuit, for the mux's budget
 * (SMUX_CIRC_RECV_MAX: SENDMEs wait above it) and, through ops->backlog, for the circuit
 * core's OOM rule (docs/PROTOCOL.md 13.7, 15.2).
 *
 * A relay without the exit role (exit == NULL) answers BEGIN, BEGIN_DIR and RESOLVE with
 * END(EXITPOLICY) / a RESOLVED error. At most SMUX_STREAMS_MAX streams per circuit (opening
 * ones included): over it END(RESOURCELIMIT). Everything a circuit holds (sockets, pending
 * opens) goes when it closes.
 *
 * Objects are freed from a deferred callback, never inside a callback the loop returns into.
 * Loop thread only.
 */
#ifndef UM_CIRCUIT_STREAM_EXIT_H
#define UM_CIRCUIT_STREAM_EXIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "exit/exit_conn.h"
#include "circuit/circuit.h"

enum stream_exit_limits {
	/* A closing stream (END both ways, bytes still queued toward the destination) whose
	 * destination takes nothing for this long is reset and freed; progress restarts it.
	 * Tor gives up flushing a closed connection after 15 s without a write as well
	 * (connection_expire_held_open). */
	STREAM_EXIT_DRAIN_TIMEOUT_MS = 15 * 1000,
};

struct stream_exit;

struct stream_exit_ops {
	/* Send a relay message toward the client on circ (circ_relay_send under the caller's
	 * reentrancy guard); for DATA also the cell's digest (circ_sent_digest). */
	int (*send)(void *arg, struct circuit *circ, uint8_t cmd, uint16_t stream_id,
	            const uint8_t *data, size_t len, uint8_t digest[RELAY_DIGEST_LEN]);
	/* Close circ for a protocol violation (circ_close(PROTOCOL) under the guard). */
	void (*close)(void *arg, struct circuit *circ);
	/* Optional: circ's streams hold bytes toward their sockets, the oldest queued age_ms
	 * ago (circ_set_stream_backlog under the guard: it may close circuits, circ too). Called
	 * when DATA changed the total and every SX tick (1 s) per circuit. */
	void (*backlog)(void *arg, struct circuit *circ, size_t bytes, uint64_t age_ms);
	void *arg;
};

/*
 * Return a new stream layer (the caller owns it: stream_exit_free(), before the loop).
 * exit: the exit context (borrowed), NULL on a relay without the exit role.
 */
struct stream_exit *stream_exit_new(struct ev_loop *loop, struct exit_ctx *exit,
                                    const struct stream_exit_ops *ops);
void stream_exit_free_(struct stream_exit *sx);
#define stream_exit_free(s) UM_FREE_AND_NULL(stream_exit_free_, s)
/* Replace STREAM_EXIT_DRAIN_TIMEOUT_MS (tests); checked once a second. */
void stream_exit_set_drain_timeout(struct stream_exit *sx, uint64_t ms);

/* A CIRC_EV_EXIT_MSG (its fields as they are). now_ns: monotonic nanoseconds. */
void stream_exit_on_msg(struct stream_exit *sx, struct circuit *circ, uint8_t cmd,
                        uint16_t stream_id, const uint8_t *data, size_t len, const uint8_t *digest,
                        uint64_t now_ns);
/* A relay circuit closed (CIRC_EV_CLOSED): drop its streams (reset their sockets). */
void stream_exit_circ_closed(struct stream_exit *sx, struct circuit *circ);
/* A link drained: package what the windows allow on every circuit. */
void stream_exit_pump(struct stream_exit *sx, uint64_t now_ns);

struct stream_exit_stats {
	size_t circuits; /* circuits with stream state */
	size_t streams;  /* open or opening streams */
	uint64_t opened, refused, ended;
};
void stream_exit_stats(const struct stream_exit *sx, struct stream_exit_stats *st);

#endif /* UM_CIRCUIT_STREAM_EXIT_H */
