/* SPDX-License-Identifier: MIT */
/*
 * The streams of one circuit at one of its ends (the client, or the exit), sans-I/O: stream
 * table, DATA packaging under congestion control, authenticated SENDMEs, XON/XOFF, END and
 * half-close (docs/PROTOCOL.md sections 14 and 15). The circuit itself and the sockets are
 * the caller's: messages go out through ops->send, the application side of each stream is
 * reached through its struct smux_stream_ops.
 *
 *   app bytes -> smux_stream_write() -> send buffer (<= SMUX_SEND_BUF_MAX, then the caller
 *   stops reading the socket until on_writable) -> DATA cells, round robin over streams,
 *   while the Vegas window is open (cc.h) and the circuit's queue toward the link is short
 *   -> ops->send; each DATA cell's digest kept every sendme_inc cells (sendme.h).
 *   DATA in -> deliver window, SENDME every sendme_inc cells (held back while the circuit's
 *   owners hold over SMUX_CIRC_RECV_MAX toward their sockets) -> on_data() to the app, whose
 *   answer (bytes still queued toward the app) drives XOFF / XON (flow.h).
 *
 * Half-close: END(DONE) means "I will send no more data" (a FIN); a stream ends when END
 * went both ways. END with any other reason aborts the stream both ways (a reset).
 *
 * Ownership: the caller owns the mux (smux_new / smux_free) and, through the application
 * side, every stream (smux_stream_new / smux_stream_free). Callbacks may call back into the
 * mux, free their own stream, or close the mux; a mux freed inside a callback is released
 * when the outermost call returns. Loop thread only.
 */
#ifndef UM_CIRCUIT_STREAM_MUX_H
#define UM_CIRCUIT_STREAM_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "circuit/flow.h"
#include "circuit/relay_msg.h"

enum smux_limits {
	SMUX_STREAMS_MAX = 256,        /* streams on one circuit; more: END(RESOURCELIMIT) */
	SMUX_SEND_BUF_MAX = 64 * 1024, /* app bytes waiting for the circuit, per stream */
	SMUX_QUEUE_MAX = 256,          /* cells queued for the link: stop packaging above */
	SMUX_PUMP_BURST = 64,          /* DATA cells per stream per round-robin turn */
	/*
	 * Bytes the owners of one circuit's streams hold toward their sockets, summed over the
	 * streams (what on_data and smux_stream_drained report). While the sum is above it, the
	 * SENDMEs that fall due are held back, so the sender's window closes; they go once it
	 * is back at or below it (docs/PROTOCOL.md 15.2). Per stream, XOFF bounds the queue
	 * only for a peer that obeys it, at 5103000 bytes otherwise (14.4): 256 of them would
	 * be 1.3 GB on one circuit. With this budget a circuit holds at most the budget plus
	 * one deliver window (5000 cells, 2430000 bytes) before its peer breaks the protocol.
	 * 4 MiB is above what honest streams reach under XOFF on a busy circuit (16 streams at
	 * their 243000-byte XOFF threshold, plus cells in flight), so it seldom stalls them.
	 */
	SMUX_CIRC_RECV_MAX = 4 * 1024 * 1024,
};

struct smux;
struct smux_stream;

struct smux_ops {
	/* Send a relay message on the circuit. For DATA, write its relay digest to digest.
	 * Any error means the circuit is gone (a close follows or already happened). */
	int (*send)(void *arg, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
	            uint8_t digest[RELAY_DIGEST_LEN]);
	/* Cells the circuit has queued toward its link (circ_queue_len). */
	size_t (*queued)(void *arg);
	/* A stream message the mux does not handle (BEGIN, BEGIN_DIR, RESOLVE at an exit;
	 * CONNECTED, RESOLVED at a client), or one for a stream it does not know. */
	void (*on_msg)(void *arg, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len);
	/* The peer broke the protocol (why is a constant string): close the circuit. */
	void (*on_violation)(void *arg, const char *why);
	void *arg;
};

struct smux_stream_ops {
	/* DATA for the application; return the bytes now queued toward it (after this). The
	 * answer counts for XOFF (14.4) and for the circuit's SMUX_CIRC_RECV_MAX until the
	 * next report (smux_stream_drained) or the stream's free. */
	size_t (*on_data)(void *arg, const uint8_t *p, size_t n);
	/* The peer sent END(reason): DONE = it sends no more (write an EOF, keep sending ours);
	 * any other reason, or the circuit went away (DESTROY): abort. After a DONE it may come
	 * once more with an abort reason (the circuit died before our side ended). */
	void (*on_end)(void *arg, uint8_t reason);
	/* smux_stream_writable() became true again: resume reading the application. */
	void (*on_writable)(void *arg);
	/* Optional: our END went out (after the last buffered byte, for DONE). */
	void (*on_end_sent)(void *arg);
};

/*
 * Return in *out a new mux for one circuit end (side: which XOFF limits are ours). ops is
 * copied. UM_ERR_INVALID for bad ops.
 */
int smux_new(enum flow_side side, const struct smux_ops *ops, struct smux **out) UM_WARN_UNUSED;
/* Free m; its streams are detached without callbacks (their owners still free them). */
void smux_free_(struct smux *m);
#define smux_free(m) UM_FREE_AND_NULL(smux_free_, m)
/*
 * The circuit is gone: every stream gets on_end(reason) (normally DESTROY) and is detached;
 * nothing is sent. Later calls on the mux do nothing.
 */
void smux_close(struct smux *m, uint8_t reason);

/*
 * A relay message for this circuit end (from CIRC_EV_MSG / CIRC_EV_EXIT_MSG): DATA, END,
 * SENDME, XON, XOFF are handled here; the rest goes to ops->on_msg. digest is the cell's
 * Digest field. now_ns: monotonic nanoseconds.
 */
void smux_on_msg(struct smux *m, uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
                 const uint8_t digest[RELAY_DIGEST_LEN], uint64_t now_ns);
/* Package what the window allows (call when the link under the circuit drained), and send
 * the SENDMEs held back if the owners' queues allow now. Every entry point below that
 * counts as a call into the mux does the latter on its way out; an owner that freed
 * streams outside the mux's callbacks calls this (from a timer) to have it done. */
void smux_pump(struct smux *m, uint64_t now_ns);
/* Send a message that is not DATA (BEGIN, CONNECTED, RESOLVE, RESOLVED, END for a stream
 * that has no struct smux_stream). UM_ERR_CLOSED once closed. */
int smux_send(struct smux *m, uint8_t cmd, uint16_t stream_id, const uint8_t *data,
              size_t len) UM_WARN_UNUSED;

/* Streams on m, and a free StreamID (0 when SMUX_STREAMS_MAX are open). */
size_t smux_count(const struct smux *m);
uint16_t smux_free_id(struct smux *m);
bool smux_has_id(const struct smux *m, uint16_t stream_id);
/* Congestion-control view, for status output. */
uint32_t smux_cwnd(const struct smux *m);
uint32_t smux_inflight(const struct smux *m);
/* Vegas was told the link is blocked (the circuit's queue reached SMUX_QUEUE_MAX). */
bool smux_link_blocked(const struct smux *m);
/* Bytes the streams' owners last reported queued toward their sockets, summed; and the
 * SENDMEs held back because that sum is over SMUX_CIRC_RECV_MAX. */
size_t smux_recv_queued(const struct smux *m);
uint32_t smux_sendmes_held(const struct smux *m);

/*
 * Add a stream with id stream_id (nonzero, unused). UM_ERR_EXISTS (id in use),
 * UM_ERR_TOO_LARGE (SMUX_STREAMS_MAX), UM_ERR_CLOSED (mux closed), UM_ERR_INVALID.
 * The caller owns *out (smux_stream_free).
 */
int smux_stream_new(struct smux *m, uint16_t stream_id, const struct smux_stream_ops *ops,
                    void *arg, struct smux_stream **out) UM_WARN_UNUSED;
/* Forget s (no message is sent: end it first); NULL-safe; allowed inside its callbacks.
 * Its queued bytes stop counting for SMUX_CIRC_RECV_MAX. */
void smux_stream_free_(struct smux_stream *s);
#define smux_stream_free(s) UM_FREE_AND_NULL(smux_stream_free_, s)
uint16_t smux_stream_id(const struct smux_stream *s);
/* Queue application bytes for the circuit (all of them; the buffer may pass
 * SMUX_SEND_BUF_MAX by one read). UM_ERR_CLOSED after our END or a detach. */
int smux_stream_write(struct smux_stream *s, const uint8_t *p, size_t n,
                      uint64_t now_ns) UM_WARN_UNUSED;
/* May the caller read more from the application? (buffer below its cap, no XOFF) */
bool smux_stream_writable(const struct smux_stream *s);
/* Bytes of application data waiting for the circuit. */
size_t smux_stream_buffered(const struct smux_stream *s);
/* The application socket took n_written bytes of what on_data gave; buffered left (also
 * after the peer's END, for SMUX_CIRC_RECV_MAX: the bytes are still ours to hold). */
void smux_stream_drained(struct smux_stream *s, size_t n_written, size_t buffered, uint64_t now_ns);
/*
 * End our direction: DONE after every buffered byte went out (a half-close); another reason
 * drops the buffer and sends END at once (an abort: the stream is over both ways).
 */
void smux_stream_end(struct smux_stream *s, uint8_t reason, uint64_t now_ns);
/* The stream is still on a live circuit. */
bool smux_stream_attached(const struct smux_stream *s);
/* Our END went out (not just requested). */
bool smux_stream_end_sent(const struct smux_stream *s);

#endif /* UM_CIRCUIT_STREAM_MUX_H */
