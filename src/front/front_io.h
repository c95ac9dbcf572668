/* SPDX-License-Identifier: MIT */
/*
 * The client's proxy ports on the event loop (docs/PROTOCOL.md sections 8, 9 and 15): a SOCKS
 * listener (SOCKS5 with no authentication or user name/password, SOCKS4/4a; CONNECT and Tor's
 * RESOLVE) and an HTTP CONNECT listener, each driving the sans-I/O parsers of socks.h and
 * http_connect.h, then a client stream of circuit_io.h.
 *
 *   accept (TCP_NODELAY; over max_conns: closed at once)
 *   -> request parsed (a malformed one gets its error reply and only that connection closes;
 *      bytes after the request are kept as the stream's first data)
 *   -> circ_io_stream_open() with the request's isolation key
 *   -> the exit's answer mapped to the reply (socks5_rep_from_end_reason,
 *      http_connect_status_from_end_reason)
 *   -> bytes both ways, with backpressure: the application socket is not read while the
 *      stream's send buffer is full or the exit sent XOFF, and what the application has not
 *      read yet drives our XOFF / XON.
 *
 * End of stream: the exit's END(DONE) becomes a FIN to the application after its last byte;
 * the application's EOF becomes END(DONE). Any other end (an END with an error reason, the
 * circuit dying, a reset by the application) resets the other side (RST), so a broken
 * transfer never looks complete. Once both ends are done, the bytes still queued toward the
 * application have FRONT_IO_LINGER_MS without progress to drain (each byte the application
 * takes restarts it); after that the connection is reset, never closed as if complete.
 *
 * Ownership: the caller owns the struct front_io and frees it before the circ_io it uses.
 * Loop thread only.
 */
#ifndef UM_FRONT_FRONT_IO_H
#define UM_FRONT_FRONT_IO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "circuit/circuit_io.h"

enum front_io_limits {
	FRONT_IO_EARLY_MAX = 64 * 1024,    /* data after the request, kept until CONNECTED */
	FRONT_IO_HANDSHAKE_MS = 30 * 1000, /* accept to a complete request */
	FRONT_IO_LINGER_MS = 10 * 1000,    /* a final reply or the last data flushing before the
	                                    * close: without progress for this long, reset */
	FRONT_IO_TICK_MS = 1000,
};

struct front_io_env {
	struct ev_loop *loop;
	struct circ_io *circ;     /* client streams (borrowed; outlives the front) */
	const char *socks_listen; /* "host:port" or "" / NULL: none */
	const char *http_listen;  /* "host:port" or "" / NULL: none */
	uint32_t max_conns;       /* proxy connections at once (both ports) */
	uint32_t linger_ms;       /* 0: FRONT_IO_LINGER_MS (tests set less) */
};

struct front_io;

/*
 * Open the listeners. UM_ERR_INVALID (bad address), UM_ERR_SYS (cannot bind: the address is
 * in use, errno kept), with why.
 */
int front_io_new(const struct front_io_env *env, struct front_io **out, char *why,
                 size_t why_len) UM_WARN_UNUSED;
/* Reset every proxy connection, close the listeners. NULL-safe. */
void front_io_free_(struct front_io *f);
#define front_io_free(f) UM_FREE_AND_NULL(front_io_free_, f)
/* The bound addresses ("127.0.0.1:9050"); "" when that port is off. */
const char *front_io_socks_addr(const struct front_io *f);
const char *front_io_http_addr(const struct front_io *f);

struct front_io_stats {
	uint32_t conns;    /* open proxy connections */
	uint64_t accepted; /* since start */
	uint64_t refused;  /* over max_conns */
	uint64_t failed;   /* requests answered with an error */
};
void front_io_stats(const struct front_io *f, struct front_io_stats *st);

#endif /* UM_FRONT_FRONT_IO_H */
