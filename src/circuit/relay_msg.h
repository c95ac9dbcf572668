/* SPDX-License-Identifier: MIT */
/*
 * Relay cell bodies and the relay messages they carry, sans-I/O (docs/PROTOCOL.md sections
 * 11.2-11.4; Tor tor-spec sections 6-7 with our relay-crypto v1 body). A RELAY or RELAY_EARLY
 * cell's 509-byte payload, once the relay-crypto layer (relay_crypto.h) has recognised it, is
 *
 *   Cmd [1] | Recognized [2] = 0 | StreamID [2] | Digest [16] | Length [2] | Data [Length]
 *   | Padding (4 zero bytes, then random bytes)                        Length <= 486
 *
 * relay_body_encode() writes Digest as zeros: the crypto layer fills it in. relay_body_parse()
 * splits a body into header and Data; relay_msg_parse() decodes Data according to Cmd.
 *
 * Every message is exactly its Data: a parser reports UM_ERR_TRUNCATED if Data ends inside
 * the message, UM_ERR_TRAILING if bytes are left after it, UM_ERR_MALFORMED if it can never be
 * valid. The circuit layer treats all three alike (a protocol violation); the distinction
 * serves tests and logs. Parsed structs hold copies, except DATA and DROP, whose payload is a
 * view into the parsed buffer (valid as long as that buffer is).
 */
#ifndef UM_CIRCUIT_RELAY_MSG_H
#define UM_CIRCUIT_RELAY_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"
#include "lib/wire.h"
#include "link/cell.h"
#include "circuit/cell_msg.h"
#include "circuit/relay_crypto.h"

enum relay_limits {
	/* RELAY_BODY_LEN and the field offsets are relay_crypto.h's (RELAY_BODY_*). */
	RELAY_DIGEST_OFF = RELAY_BODY_DIGEST_OFF, /* Cmd | Recognized | StreamID */
	RELAY_DIGEST_LEN = RELAY_BODY_DIGEST_LEN,
	RELAY_HEADER_LEN = RELAY_DIGEST_OFF + RELAY_DIGEST_LEN + 2, /* 23 */
	RELAY_DATA_MAX = RELAY_BODY_LEN - RELAY_HEADER_LEN,         /* 486 */
	RELAY_PAD_ZERO_LEN = 4,                                     /* zero bytes before random */
	RELAY_HOSTNAME_MAX = 255,                                   /* bytes of a DNS name */
	RELAY_HOSTNAME_LABEL_MAX = 63,                              /* bytes of one label */
	RELAY_IPV6_TEXT_MAX = 45,                                   /* INET6_ADDRSTRLEN - 1 */
	RELAY_ADDRPORT_MAX = RELAY_HOSTNAME_MAX + 1 + 5,            /* "host:65535", no NUL */
	RELAY_EXTEND2_MAX_SPECS = 8,                                /* NSPEC cap */
	RELAY_RESOLVED_MAX_ANSWERS = 16,                            /* answers in one RESOLVED */
	RELAY_SENDME_VERSION = 1,                                   /* the only one we speak */
	RELAY_SENDME_DIGEST_LEN = 16,                               /* = RELAY_DIGEST_LEN */
	RELAY_XON_VERSION = 0,                                      /* XON and XOFF */
	RELAY_EXTENDED2_HDATA_MAX = RELAY_DATA_MAX - CIRC_CREATED2_HDR_LEN, /* 484 */
	RELAY_TOKEN_ISSUER_LEN = 32,                               /* issuer's Ed25519 id */
	RELAY_TOKEN_MAX = RELAY_DATA_MAX - RELAY_TOKEN_ISSUER_LEN, /* 454 bytes of token */
	RELAY_TOKEN_ACK_LEN = 2,                                   /* status | tier */
	RELAY_TIER_MAX = 15,                                       /* tiers 0..15 */
};

/* Relay commands we name (tor-spec 6.1 numbers). Anything else is unknown and dropped. */
enum relay_cmd {
	RELAY_BEGIN = 1,
	RELAY_DATA = 2,
	RELAY_END = 3,
	RELAY_CONNECTED = 4,
	RELAY_SENDME = 5,
	RELAY_TRUNCATE = 8,
	RELAY_TRUNCATED = 9,
	RELAY_DROP = 10,
	RELAY_RESOLVE = 11,
	RELAY_RESOLVED = 12,
	RELAY_BEGIN_DIR = 13,
	RELAY_EXTEND2 = 14,
	RELAY_EXTENDED2 = 15,
	RELAY_XON = 43,
	RELAY_XOFF = 44,
	RELAY_TOKEN = 70,     /* ours: spend a tier token at the exit (PROTOCOL.md 17.5) */
	RELAY_TOKEN_ACK = 71, /* ours: the exit's answer */
};

/* TOKEN_ACK status (docs/PROTOCOL.md 17.5; = trust/token_verifier.h enum token_verdict). */
enum relay_token_status {
	RELAY_TOKEN_ACCEPTED = 0,        /* tier = the token's, now the circuit's */
	RELAY_TOKEN_UNKNOWN_ISSUER = 1,  /* not an issuer the exit trusts */
	RELAY_TOKEN_INVALID = 2,         /* unknown key for (tier, epoch), key_id, signature */
	RELAY_TOKEN_REFUSED_EPOCH = 3,   /* below min_token_epoch, or revoked */
	RELAY_TOKEN_DOUBLE_SPEND = 4,    /* the nonce was spent at this exit already */
	RELAY_TOKEN_HAS_TIER = 5,        /* the circuit has a tier: one token per circuit */
	RELAY_TOKEN_UNAVAILABLE = 6,     /* malformed, or the exit cannot check tokens now */
	RELAY_TOKEN_REVOKED_SUBJECT = 7, /* identified token of a subject the issuer revoked */
	RELAY_TOKEN_STATUS_MAX = 7,
};

/* Which StreamID a command must carry. */
enum relay_stream_rule {
	RELAY_STREAM_UNKNOWN = 0, /* not a command we know: no rule, the message is dropped */
	RELAY_STREAM_REQUIRED,    /* stream-level: StreamID != 0 */
	RELAY_STREAM_FORBIDDEN,   /* circuit-level: StreamID == 0 */
};

/* END reasons (tor-spec 6.3). */
enum relay_end_reason {
	RELAY_END_MISC = 1,
	RELAY_END_RESOLVEFAILED = 2,
	RELAY_END_CONNECTREFUSED = 3,
	RELAY_END_EXITPOLICY = 4,
	RELAY_END_DESTROY = 5,
	RELAY_END_DONE = 6,
	RELAY_END_TIMEOUT = 7,
	RELAY_END_NOROUTE = 8,
	RELAY_END_HIBERNATING = 9,
	RELAY_END_INTERNAL = 10,
	RELAY_END_RESOURCELIMIT = 11,
	RELAY_END_CONNRESET = 12,
	RELAY_END_TORPROTOCOL = 13,
	RELAY_END_NOTDIRECTORY = 14,
	RELAY_END_REASON_MAX = 14,
};

/* Link specifier types in EXTEND2 (tor-spec 5.1.2). */
enum relay_lspec_type {
	RELAY_LS_IPV4 = 0,       /* IPv4 [4] | port [2] */
	RELAY_LS_IPV6 = 1,       /* IPv6 [16] | port [2] */
	RELAY_LS_LEGACY_ID = 2,  /* RSA identity digest [20]: accepted and skipped */
	RELAY_LS_ED25519_ID = 3, /* Ed25519 identity [32] */
	/* Ours (docs/PROTOCOL.md 11.6): the target's X25519 link key [32], so the extending
	 * relay can open an XK link without the target in its own consensus. Outside Tor's
	 * numbers; a node that does not know it skips it. */
	RELAY_LS_LINK_KEY = 0x80,
};

enum relay_lspec_len {
	RELAY_LS_IPV4_LEN = 6,
	RELAY_LS_IPV6_LEN = 18,
	RELAY_LS_LEGACY_ID_LEN = 20,
	RELAY_LS_ED25519_ID_LEN = 32,
	RELAY_LS_LINK_KEY_LEN = 32, /* = X25519_KEY_LEN */
};

/* BEGIN flags (tor-spec 6.2; bit 1 is the least significant). Other bits are refused. */
enum relay_begin_flags {
	RELAY_BEGIN_F_IPV6_OK = 0x1,
	RELAY_BEGIN_F_IPV4_NOT_OK = 0x2, /* only together with IPV6_OK */
	RELAY_BEGIN_F_IPV6_PREFERRED = 0x4,
	RELAY_BEGIN_F_ALL = 0x7,
};

enum relay_host_type {
	RELAY_HOST_NAME = 1, /* a DNS name: name[] */
	RELAY_HOST_IPV4 = 4, /* addr[0..3] */
	RELAY_HOST_IPV6 = 6, /* addr[0..15] */
};

/* RESOLVED answer types (tor-spec 6.4). */
enum relay_answer_type {
	RELAY_ANSWER_HOSTNAME = 0x00,
	RELAY_ANSWER_IPV4 = 0x04,
	RELAY_ANSWER_IPV6 = 0x06,
	RELAY_ANSWER_ERR_TRANSIENT = 0xf0,
	RELAY_ANSWER_ERR_NONTRANSIENT = 0xf1,
};

/* A parsed relay body header; data points into the parsed body. */
struct relay_hdr {
	uint8_t cmd;
	uint16_t stream_id;
	uint8_t digest[RELAY_DIGEST_LEN];
	uint16_t length; /* <= RELAY_DATA_MAX */
	const uint8_t *data;
};

/* EXTEND2: where to extend to, and the CREATE2 request to send there. */
struct relay_extend2 {
	bool has_ipv4, has_ipv6; /* at least one */
	uint8_t ipv4[4];
	uint16_t ipv4_port;
	uint8_t ipv6[16];
	uint16_t ipv6_port;
	uint8_t ed25519_id[RELAY_LS_ED25519_ID_LEN];
	bool has_link_key; /* the target's link key (RELAY_LS_LINK_KEY) was given */
	uint8_t link_key[RELAY_LS_LINK_KEY_LEN];
	struct circ_create2 create;
};

/*
 * A BEGIN target. Canonical form (what parse produces): name[] lower case, NUL-terminated and
 * all zero after the NUL for RELAY_HOST_NAME (addr zero); name[] empty for the IP types.
 */
struct relay_target {
	uint8_t type; /* enum relay_host_type */
	char name[RELAY_HOSTNAME_MAX + 1];
	uint8_t addr[16];
	uint16_t port; /* 1..65535 */
};

struct relay_begin {
	struct relay_target target;
	uint32_t flags; /* enum relay_begin_flags */
};

struct relay_connected {
	uint8_t addr_type; /* 0 (empty message), RELAY_HOST_IPV4 or RELAY_HOST_IPV6 */
	uint8_t addr[16];
	uint32_t ttl;
};

struct relay_end {
	uint8_t reason;    /* enum relay_end_reason */
	uint8_t addr_type; /* 0, or RELAY_HOST_IPV4/IPV6: only with RELAY_END_EXITPOLICY */
	uint8_t addr[16];
	uint32_t ttl;
};

struct relay_resolve {
	char name[RELAY_HOSTNAME_MAX + 1]; /* a DNS name (in-addr.arpa / ip6.arpa for reverse) */
};

struct relay_answer {
	uint8_t type;                      /* enum relay_answer_type */
	uint8_t addr[16];                  /* IPV4 / IPV6 */
	char name[RELAY_HOSTNAME_MAX + 1]; /* HOSTNAME, canonical like relay_target's */
	uint32_t ttl;
};

struct relay_resolved {
	uint8_t n_answers; /* 1..RELAY_RESOLVED_MAX_ANSWERS */
	struct relay_answer answers[RELAY_RESOLVED_MAX_ANSWERS];
};

struct relay_sendme {
	uint8_t digest[RELAY_SENDME_DIGEST_LEN];
};

struct relay_xon {
	uint32_t kbps_ewma;
};

struct relay_bytes {
	const uint8_t *p; /* a view; NULL when len == 0 */
	size_t len;
};

/*
 * TOKEN: the issuer's Ed25519 identity and the token (trust/token.h format: token_encode()
 * it), a view. The relay message only frames them: any 0..RELAY_TOKEN_MAX token bytes parse
 * and write (the exit judges the token itself and answers UNAVAILABLE for a malformed one).
 */
struct relay_token {
	uint8_t issuer[RELAY_TOKEN_ISSUER_LEN];
	struct relay_bytes token;
};

/*
 * TOKEN_ACK: status (enum relay_token_status) and the circuit's tier after the TOKEN: the
 * token's (1..15) with ACCEPTED, the tier it already has (1..15) with HAS_TIER, 0 otherwise.
 */
struct relay_token_ack {
	uint8_t status;
	uint8_t tier;
};

/* One decoded relay message. Which member is set depends on cmd. */
struct relay_msg {
	uint8_t cmd;
	uint16_t stream_id;
	union {
		struct relay_begin begin;         /* BEGIN */
		struct relay_bytes data;          /* DATA (1..486 bytes), DROP (0..486) */
		struct relay_end end;             /* END */
		struct relay_connected connected; /* CONNECTED */
		struct relay_sendme sendme;       /* SENDME */
		uint8_t reason;                   /* TRUNCATED: enum circ_destroy_reason */
		struct relay_resolve resolve;     /* RESOLVE */
		struct relay_resolved resolved;   /* RESOLVED */
		struct relay_extend2 extend2;     /* EXTEND2 */
		struct circ_created2 extended2;   /* EXTENDED2 */
		struct relay_xon xon;             /* XON */
		struct relay_token token;         /* TOKEN */
		struct relay_token_ack token_ack; /* TOKEN_ACK */
		                                  /* TRUNCATE, BEGIN_DIR, XOFF: no fields */
	} u;
};

/* Return the command's name ("begin", ...) or "unknown". */
const char *relay_cmd_name(uint8_t cmd);
/* Return which StreamID cmd must carry. */
enum relay_stream_rule relay_cmd_stream_rule(uint8_t cmd);
/* Return the name of an END reason ("misc", ...) or "unknown". */
const char *relay_end_reason_str(uint8_t reason);

/*
 * Build a relay body in out[RELAY_BODY_LEN]: header with Recognized and Digest zero, Data,
 * then padding (RELAY_PAD_ZERO_LEN zero bytes, or fewer if that is all the room left, then
 * random bytes from crypto/'s CSPRNG). UM_ERR_INVALID if len > RELAY_DATA_MAX.
 */
int relay_body_encode(uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
                      uint8_t out[RELAY_BODY_LEN]) UM_WARN_UNUSED;
/*
 * Split a recognised body (len must be RELAY_BODY_LEN; TRUNCATED if shorter) into *out;
 * out->data points into body. UM_ERR_MALFORMED if Recognized != 0 or Length > RELAY_DATA_MAX.
 * The command is not checked here: relay_msg_parse() does that.
 */
int relay_body_parse(const uint8_t *body, size_t len, struct relay_hdr *out) UM_WARN_UNUSED;

/*
 * Decode the Data of a relay message with command cmd and stream_id into *out (written only
 * on UM_OK; DATA/DROP views point into data). UM_ERR_NOT_FOUND for a command we do not know
 * (drop the message: it still counted for digests and windows), UM_ERR_MALFORMED if stream_id
 * breaks the command's rule or the message is malformed, UM_ERR_TRUNCATED/UM_ERR_TRAILING as
 * above.
 */
int relay_msg_parse(uint8_t cmd, uint16_t stream_id, const uint8_t *data, size_t len,
                    struct relay_msg *out) UM_WARN_UNUSED;
/*
 * Encode m's Data into out (cap bytes, RELAY_DATA_MAX is always enough); *len is its length.
 * UM_ERR_INVALID if m would not parse back (bad field, stream rule broken, unknown command),
 * UM_ERR_TOO_LARGE if cap is short.
 */
int relay_msg_encode(const struct relay_msg *m, uint8_t *out, size_t cap,
                     size_t *len) UM_WARN_UNUSED;

/* Per-message parsers (the whole of data is the message; StreamID is not checked here). */
int relay_extend2_parse(const uint8_t *data, size_t len, struct relay_extend2 *out) UM_WARN_UNUSED;
int relay_extended2_parse(const uint8_t *data, size_t len,
                          struct circ_created2 *out) UM_WARN_UNUSED;
int relay_begin_parse(const uint8_t *data, size_t len, struct relay_begin *out) UM_WARN_UNUSED;
int relay_connected_parse(const uint8_t *data, size_t len,
                          struct relay_connected *out) UM_WARN_UNUSED;
int relay_end_parse(const uint8_t *data, size_t len, struct relay_end *out) UM_WARN_UNUSED;
int relay_resolve_parse(const uint8_t *data, size_t len, struct relay_resolve *out) UM_WARN_UNUSED;
int relay_resolved_parse(const uint8_t *data, size_t len,
                         struct relay_resolved *out) UM_WARN_UNUSED;
int relay_sendme_parse(const uint8_t *data, size_t len, struct relay_sendme *out) UM_WARN_UNUSED;
int relay_xon_parse(const uint8_t *data, size_t len, struct relay_xon *out) UM_WARN_UNUSED;
int relay_xoff_parse(const uint8_t *data, size_t len) UM_WARN_UNUSED;
int relay_truncated_parse(const uint8_t *data, size_t len, uint8_t *reason) UM_WARN_UNUSED;
/* TOKEN: UM_ERR_TRUNCATED under RELAY_TOKEN_ISSUER_LEN bytes; out->token views data. */
int relay_token_parse(const uint8_t *data, size_t len, struct relay_token *out) UM_WARN_UNUSED;
/* TOKEN_ACK: exactly 2 bytes; a status over RELAY_TOKEN_STATUS_MAX or a tier that breaks the
 * rule of struct relay_token_ack is UM_ERR_MALFORMED. */
int relay_token_ack_parse(const uint8_t *data, size_t len,
                          struct relay_token_ack *out) UM_WARN_UNUSED;

/*
 * Per-message writers: append the message to w. UM_ERR_INVALID for a struct that would not
 * parse back, UM_ERR_TOO_LARGE if w is full; nothing written on error.
 */
int relay_extend2_write(struct wire_wr *w, const struct relay_extend2 *e) UM_WARN_UNUSED;
int relay_begin_write(struct wire_wr *w, const struct relay_begin *b) UM_WARN_UNUSED;
int relay_connected_write(struct wire_wr *w, const struct relay_connected *c) UM_WARN_UNUSED;
int relay_end_write(struct wire_wr *w, const struct relay_end *e) UM_WARN_UNUSED;
int relay_resolve_write(struct wire_wr *w, const struct relay_resolve *r) UM_WARN_UNUSED;
int relay_resolved_write(struct wire_wr *w, const struct relay_resolved *r) UM_WARN_UNUSED;
int relay_sendme_write(struct wire_wr *w, const struct relay_sendme *s) UM_WARN_UNUSED;
int relay_xon_write(struct wire_wr *w, const struct relay_xon *x) UM_WARN_UNUSED;
int relay_xoff_write(struct wire_wr *w) UM_WARN_UNUSED;
int relay_token_write(struct wire_wr *w, const struct relay_token *t) UM_WARN_UNUSED;
int relay_token_ack_write(struct wire_wr *w, const struct relay_token_ack *a) UM_WARN_UNUSED;

/*
 * Host text rules shared by parse and encode (docs/PROTOCOL.md 11.4.1). A DNS name is 1..255
 * bytes of dot-separated labels, each 1..63 bytes of [a-z0-9-] not starting or ending with
 * '-', the last label not all digits (so a name never reads as an IPv4 literal); no trailing
 * dot. relay_hostname_canon() lower-cases s[0..n) into out[RELAY_HOSTNAME_MAX + 1]
 * (NUL-terminated, zero-filled) and returns false if the result is not a valid name.
 */
bool relay_hostname_canon(const char *s, size_t n, char out[RELAY_HOSTNAME_MAX + 1]);
/* Parse a strict dotted-quad IPv4 literal (4 decimal octets, no leading zeros). */
bool relay_ipv4_parse(const char *s, size_t n, uint8_t out[4]);

#endif /* UM_CIRCUIT_RELAY_MSG_H */
