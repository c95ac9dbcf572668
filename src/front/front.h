/* SPDX-License-Identifier: MIT */
/*
 * What the client front ends (SOCKS4/4a/5 in socks.h, HTTP CONNECT in http_connect.h) have in
 * common: the decoded request an application made (a command, a destination and an isolation
 * key), the stream END reasons a request can fail with, and the host-name rule both apply.
 * Nothing here does I/O; docs/PROTOCOL.md sections 8 and 9 give the wire behaviour.
 */
#ifndef UM_FRONT_FRONT_H
#define UM_FRONT_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/compiler.h"

enum front_limits {
	FRONT_HOST_MAX = 255,      /* bytes of a destination host name */
	FRONT_ISO_FIELD_MAX = 255, /* bytes of an isolation user name or password */
	FRONT_IPV4_LEN = 4,
	FRONT_IPV6_LEN = 16,
};

/*
 * Why a stream ended, in Tor's numbering (relay END cell reasons); the circuit module uses
 * the same values. The front ends map them to reply codes (socks.h, http_connect.h).
 */
enum front_end_reason {
	FRONT_END_MISC = 1,
	FRONT_END_RESOLVEFAILED = 2,
	FRONT_END_CONNECTREFUSED = 3,
	FRONT_END_EXITPOLICY = 4,
	FRONT_END_DESTROY = 5,
	FRONT_END_DONE = 6,
	FRONT_END_TIMEOUT = 7,
	FRONT_END_NOROUTE = 8,
	FRONT_END_HIBERNATING = 9,
	FRONT_END_INTERNAL = 10,
	FRONT_END_RESOURCELIMIT = 11,
	FRONT_END_CONNRESET = 12,
	FRONT_END_TORPROTOCOL = 13,
	FRONT_END_NOTDIRECTORY = 14,
};

/* The protocol a request arrived in (it decides the reply format). */
enum front_proto {
	FRONT_PROTO_SOCKS4 = 1,
	FRONT_PROTO_SOCKS4A = 2,
	FRONT_PROTO_SOCKS5 = 3,
	FRONT_PROTO_HTTP_CONNECT = 4,
};

/* Commands; the values are SOCKS5's (0xF0 is Tor's RESOLVE extension). */
enum front_cmd {
	FRONT_CMD_CONNECT = 0x01,
	FRONT_CMD_RESOLVE = 0xF0,
};

/* Destination kinds; the values are SOCKS5's ATYP. */
enum front_host_type {
	FRONT_HOST_IPV4 = 0x01,
	FRONT_HOST_NAME = 0x03, /* resolved at the exit (socks5h semantics) */
	FRONT_HOST_IPV6 = 0x04,
};

/* Where the isolation key came from; streams are isolated unless kind and bytes are equal. */
enum front_iso_kind {
	FRONT_ISO_NONE = 0,
	FRONT_ISO_SOCKS5_USERPASS = 1, /* RFC 1929 user name and password */
	FRONT_ISO_SOCKS4_USERID = 2,   /* SOCKS4/4a USERID (user only, 1..255 bytes) */
	FRONT_ISO_HTTP_BASIC = 3,      /* Proxy-Authorization: Basic user-id ":" password */
};

struct front_iso {
	uint8_t kind; /* enum front_iso_kind */
	uint8_t user_len;
	uint8_t pass_len;
	uint8_t user[FRONT_ISO_FIELD_MAX];
	uint8_t pass[FRONT_ISO_FIELD_MAX];
};

/* One complete request, as decoded by a front-end parser. Holds copies, never views. */
struct front_request {
	uint8_t proto;                /* enum front_proto */
	uint8_t cmd;                  /* enum front_cmd; HTTP CONNECT is always FRONT_CMD_CONNECT */
	uint8_t host_type;            /* enum front_host_type */
	uint8_t addr[FRONT_IPV6_LEN]; /* FRONT_HOST_IPV4: first 4 bytes; IPV6: all 16; else 0 */
	char host[FRONT_HOST_MAX + 1]; /* FRONT_HOST_NAME: the name, NUL-terminated; else "" */
	uint16_t port;                 /* 1..65535 for CONNECT; any value for RESOLVE */
	struct front_iso iso;
};

/* An address to report in a reply (SOCKS BND.ADDR, the answer to RESOLVE). */
struct front_addr {
	uint8_t type; /* FRONT_HOST_IPV4 or FRONT_HOST_IPV6 */
	uint8_t addr[FRONT_IPV6_LEN];
	uint16_t port;
};

/*
 * The host-name rule of both front ends: 1..FRONT_HOST_MAX bytes, each a visible ASCII
 * character 0x21..0x7e (no NUL, no control byte, no space, no DEL, no 8-bit byte). Names are
 * passed to the exit unresolved, so this only refuses what no resolver could use and what
 * would be dangerous in a log line or a relay cell.
 */
bool front_host_is_valid(const uint8_t *s, size_t len);
/* True when a and b isolate to the same circuit (equal kind and bytes), compared exactly. */
bool front_iso_eq(const struct front_iso *a, const struct front_iso *b);
/* Wipe the credentials in r (the passwords are the user's, even if we use them as keys). */
void front_request_clear(struct front_request *r);
/* A short constant name for an END reason ("exitpolicy"), "unknown" for other values. */
const char *front_end_reason_str(int reason);

#endif /* UM_FRONT_FRONT_H */
