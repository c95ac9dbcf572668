/* SPDX-License-Identifier: MIT */
/*
 * The server side of SOCKS5 (RFC 1928, with RFC 1929 user name/password), SOCKS4 and SOCKS4a,
 * sans-I/O (docs/PROTOCOL.md section 8). An incremental state machine: the connection layer
 * feeds whatever bytes arrived and gets back, per call, the bytes to write (method selection,
 * authentication status, an error reply) and one of three events:
 *
 *   SOCKS_EV_NEED_MORE  every byte was consumed; write the output, then feed more
 *   SOCKS_EV_REQUEST    a complete request (socks_server_request()); write the output; the
 *                       input after step->consumed is the stream's first (optimistic) data
 *   SOCKS_EV_FAILED     write the output (the exact error reply, possibly empty), then close
 *
 *   SOCKS5:  C: 05 n methods[n]           S: 05 m      (m = 02 if offered, else 00, else FF)
 *            C: 01 ulen user plen pass    S: 01 00     (only when m = 02)
 *            C: 05 cmd 00 atyp addr port  -> request   (the reply comes later, when the
 *                                                       circuit answers: socks_reply_*())
 *   SOCKS4:  C: 04 cmd port ip userid 00            -> request
 *   SOCKS4a: C: 04 cmd port 0.0.0.x userid 00 host 00 (x != 0) -> request
 *
 * Results do not depend on how the input is split: a byte-by-byte feed gives the same output
 * bytes (concatenated), the same event and the same request as a single call. At most one
 * maximal message (SOCKS_MSG_MAX bytes) is buffered. The parser never logs.
 */
#ifndef UM_FRONT_SOCKS_H
#define UM_FRONT_SOCKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "lib/wire.h"
#include "front/front.h"

enum socks_limits {
	SOCKS_METHODS_MAX = 255,
	SOCKS4_USERID_MAX = 255, /* bytes before the NUL */
	/* The largest message: SOCKS4a with a 255-byte USERID and a 255-byte host, NULs included
	 * (SOCKS5 maxima: greeting 257, authentication 513, request 262). */
	SOCKS_MSG_MAX = 8 + SOCKS4_USERID_MAX + 1 + FRONT_HOST_MAX + 1,
	/* Output of one feed: method selection, authentication status and a 10-byte error. */
	SOCKS_OUT_MAX = 16,
	SOCKS5_REPLY_IPV4_LEN = 10,
	SOCKS5_REPLY_IPV6_LEN = 22,
	SOCKS4_REPLY_LEN = 8,
};

/* SOCKS5 constants (RFC 1928, RFC 1929). */
enum socks5_const {
	SOCKS5_VERSION = 0x05,
	SOCKS5_AUTH_VERSION = 0x01,
	SOCKS5_METHOD_NONE = 0x00,
	SOCKS5_METHOD_USERPASS = 0x02,
	SOCKS5_METHOD_UNACCEPTABLE = 0xFF,
	SOCKS5_AUTH_OK = 0x00,
	SOCKS5_AUTH_FAILED = 0x01,
};

/* SOCKS5 reply codes (RFC 1928 section 6). */
enum socks5_rep {
	SOCKS5_REP_SUCCEEDED = 0x00,
	SOCKS5_REP_GENERAL_FAILURE = 0x01,
	SOCKS5_REP_NOT_ALLOWED = 0x02,
	SOCKS5_REP_NET_UNREACHABLE = 0x03,
	SOCKS5_REP_HOST_UNREACHABLE = 0x04,
	SOCKS5_REP_CONN_REFUSED = 0x05,
	SOCKS5_REP_TTL_EXPIRED = 0x06,
	SOCKS5_REP_CMD_NOT_SUPPORTED = 0x07,
	SOCKS5_REP_ATYP_NOT_SUPPORTED = 0x08,
};

/* SOCKS4 constants: the reply's VN is 0, CD 0x5A granted or 0x5B rejected. */
enum socks4_const {
	SOCKS4_VERSION = 0x04,
	SOCKS4_REPLY_VERSION = 0x00,
	SOCKS4_REP_GRANTED = 0x5A,
	SOCKS4_REP_REJECTED = 0x5B,
};

enum socks_event {
	SOCKS_EV_NEED_MORE = 0,
	SOCKS_EV_REQUEST = 1,
	SOCKS_EV_FAILED = 2,
};

/* What one feed produced. */
struct socks_step {
	uint8_t ev;      /* enum socks_event */
	int err;         /* SOCKS_EV_FAILED: UM_ERR_MALFORMED, UM_ERR_TOO_LARGE or UM_ERR_AUTH */
	size_t consumed; /* bytes of the input that were part of the handshake */
	size_t out_len;
	uint8_t out[SOCKS_OUT_MAX]; /* bytes to write to the application, in order */
};

struct socks_server;

/* socks.c */

/* Return a new parser for one connection; the caller owns it: socks_server_free(). */
struct socks_server *socks_server_new(void);
/* Wipe (the credentials) and free s; NULL is a no-op. */
void socks_server_free_(struct socks_server *s);
#define socks_server_free(s) UM_FREE_AND_NULL(socks_server_free_, s)
/*
 * The request, once a feed returned SOCKS_EV_REQUEST (NULL before). The pointer lives as
 * long as s.
 */
const struct front_request *socks_server_request(const struct socks_server *s);

/* Map a stream END reason to the SOCKS5 reply code (see docs/PROTOCOL.md 8.4). */
uint8_t socks5_rep_from_end_reason(int reason);
/* Map a stream END reason to the SOCKS4 reply code: always SOCKS4_REP_REJECTED. */
uint8_t socks4_rep_from_end_reason(int reason);

/*
 * Append a SOCKS5 reply with code rep and bound address bound (NULL: 0.0.0.0 port 0) to w:
 * 05 rep 00 atyp addr port, 10 or 22 bytes. UM_ERR_INVALID for a bad bound type.
 */
int socks5_reply_encode(uint8_t rep, const struct front_addr *bound,
                        struct wire_wr *w) UM_WARN_UNUSED;
/*
 * Append a SOCKS4 reply: 00 cd port ip, 8 bytes. bound NULL or IPv6 sends 0.0.0.0 port 0.
 */
int socks4_reply_encode(uint8_t cd, const struct front_addr *bound,
                        struct wire_wr *w) UM_WARN_UNUSED;
/*
 * The success reply to req in its own protocol: for CONNECT, bound is the address the exit
 * reported (NULL: 0.0.0.0 port 0); for RESOLVE, the resolved address (SOCKS4a can only carry
 * an IPv4 answer: an IPv6 one is UM_ERR_INVALID, send the failure instead).
 */
int socks_reply_success(const struct front_request *req, const struct front_addr *bound,
                        struct wire_wr *w) UM_WARN_UNUSED;
/* The failure reply to req for a stream that ended with reason, in req's protocol. */
int socks_reply_failure(const struct front_request *req, int reason,
                        struct wire_wr *w) UM_WARN_UNUSED;

/*
 * Client side, for tests and tools: append the bytes a client sends for req (SOCKS5:
 * greeting offering one method, the authentication if req->iso is SOCKS5_USERPASS, and the
 * request; SOCKS4/4a: the one message). UM_ERR_INVALID if req cannot be expressed.
 */
int socks_request_encode(const struct front_request *req, struct wire_wr *w) UM_WARN_UNUSED;

/* socks_parse.c */

/*
 * Feed the next len bytes from the application. Fills *step (see above) and returns UM_OK;
 * UM_ERR_STATE if s already returned SOCKS_EV_REQUEST or SOCKS_EV_FAILED (nothing consumed).
 */
int socks_server_feed(struct socks_server *s, const uint8_t *in, size_t len,
                      struct socks_step *step) UM_WARN_UNUSED;

#endif /* UM_FRONT_SOCKS_H */
