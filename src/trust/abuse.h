/* SPDX-License-Identifier: MIT */
/*
 * Entry abuse control, sans-I/O (no sockets, no clock: "now" comes in). A relay that accepts
 * links from the world meets clients that open handshakes or circuits as fast as they can.
 * This module decides, per source, whether the next one may cost us public-key work:
 *
 *   source       the address cut to a prefix (default /32 for IPv4, /64 for IPv6: one host
 *                usually holds a whole /64), hashed with a secret key so a flood cannot aim
 *                at one hash chain;
 *   buckets      a token bucket per source and kind: link handshakes, circuit creations
 *                (CREATE2), token issuance requests (at an issuer), each `rate` per second
 *                with a `burst`;
 *   bans         a source refused `violations` times within `violation_window_ms` is banned
 *                for `ban_ms`; each further ban of the same source doubles, up to `ban_max_ms`;
 *                a banned source is refused without touching its buckets;
 *   in flight    at most `max_inflight` handshakes in progress at once (all sources) and
 *                `max_inflight_per_source` per source: begin/end pairs;
 *   puzzle       the difficulty (leading zero bits) a handshake must show before any
 *                public-key work: 0 while in-flight load stays under half of max_inflight,
 *                raised one bit per `puzzle_step_ms` while load is over three quarters or
 *                handshakes are being refused for load, lowered one bit per step while load
 *                is under a quarter; capped at ABUSE_PUZZLE_MAX_BITS.
 *
 * Memory is bounded: at most `max_sources` sources are tracked; when full, the source seen
 * least recently that is not banned is forgotten (a banned one only when all are banned).
 * Forgetting a source is never worse for us than its bucket being full again.
 */
#ifndef UM_TRUST_ABUSE_H
#define UM_TRUST_ABUSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/compiler.h"
#include "lib/mem.h"

enum abuse_limits {
	ABUSE_ADDR_MAX = 16,        /* an IPv6 address */
	ABUSE_PUZZLE_MAX_BITS = 24, /* ~16 M hashes: seconds of a client's CPU */
	ABUSE_MAX_SOURCES_MAX = 1 << 20,
};

enum abuse_kind {
	ABUSE_HANDSHAKE = 0,
	ABUSE_CREATE = 1,
	ABUSE_ISSUE = 2, /* anonymous token issuance requests at an issuer */
	ABUSE_KINDS = 3,
};

enum abuse_verdict {
	ABUSE_OK = 0,     /* go ahead */
	ABUSE_RATE = 1,   /* this source's bucket is empty */
	ABUSE_BANNED = 2, /* this source is banned */
	ABUSE_BUSY = 3,   /* too many handshakes in flight (all sources, or this one) */
};

struct abuse_bucket_config {
	uint32_t rate_per_s; /* tokens added per second, >= 1 */
	uint32_t burst;      /* bucket size, >= 1 */
};

struct abuse_config {
	struct abuse_bucket_config bucket[ABUSE_KINDS];
	uint32_t violations;          /* refusals within the window that earn a ban, >= 1 */
	uint32_t violation_window_ms; /* >= 1 */
	uint32_t ban_ms;              /* first ban, >= 1 */
	uint32_t ban_max_ms;          /* >= ban_ms */
	uint32_t max_inflight;        /* handshakes in progress, all sources, >= 1 */
	uint32_t max_inflight_per_source;
	uint32_t puzzle_step_ms; /* difficulty changes at most this often, >= 1 */
	uint8_t v4_prefix;       /* bits of an IPv4 address that name a source, 8..32 */
	uint8_t v6_prefix;       /* bits of an IPv6 address, 16..128 */
	size_t max_sources;      /* 16..ABUSE_MAX_SOURCES_MAX */
};

/* Defaults: handshakes 5/s burst 20, creations 20/s burst 100, issuance requests 1/s
 * burst 4 per source; 10 refusals in
 * 10 s earn a 60 s ban doubling to 1 h; 256 handshakes in flight (8 per source); puzzle step
 * 1 s; /32 and /64 sources; 65,536 sources. */
void abuse_config_defaults(struct abuse_config *cfg);

struct abuse;

/* Check cfg (UM_ERR_INVALID with why) and make a new state (*out, freed with abuse_free). */
int abuse_new(const struct abuse_config *cfg, struct abuse **out, char *why,
              size_t why_len) UM_WARN_UNUSED;
void abuse_free_(struct abuse *a);
#define abuse_free(a) UM_FREE_AND_NULL(abuse_free_, a)

/*
 * The address bytes a peer is keyed on and their family (AF_INET: 4 bytes, AF_INET6: 16): an
 * IPv4-mapped IPv6 address (an IPv4 peer of a dual-stack listener) counts as the IPv4
 * address it is. NULL (family AF_UNSPEC) for other families. The result points into ss.
 */
const uint8_t *abuse_addr_of(const struct sockaddr_storage *ss, int *family);

/*
 * May the source at addr (family AF_INET with 4 bytes or AF_INET6 with 16) start one of kind
 * at now_ms? ABUSE_OK takes a token (and, for ABUSE_HANDSHAKE, a slot in flight that
 * abuse_handshake_end() gives back). A refusal counts toward a ban.
 */
enum abuse_verdict abuse_check(struct abuse *a, enum abuse_kind kind, int family,
                               const uint8_t *addr, uint64_t now_ms);
/*
 * Whether the source at addr is "under load" for kind at now_ms: its bucket, refilled to now,
 * holds less than half of its burst (it used more than half recently), or it is banned.
 * Takes nothing and tracks no new source (an unknown source has a full bucket: false).
 * The issuer asks a puzzle of such a source's token requests (PROTOCOL.md 17.4).
 */
bool abuse_under_load(struct abuse *a, enum abuse_kind kind, int family, const uint8_t *addr,
                      uint64_t now_ms);
/* A handshake admitted by abuse_check() finished (either way). */
void abuse_handshake_end(struct abuse *a, int family, const uint8_t *addr);

/* The puzzle difficulty to ask of a new handshake at now_ms (adapts as described above). The
 * puzzle itself (work function, seeds, replay cache) is crypto/puzzle.h; the link layer asks
 * it (PROTOCOL.md 2.2). */
unsigned abuse_puzzle_bits(struct abuse *a, uint64_t now_ms);

struct abuse_stats {
	size_t sources; /* tracked now */
	size_t banned;  /* of them, banned at the time of the call */
	uint32_t inflight;
	unsigned puzzle_bits;
	uint64_t admitted[ABUSE_KINDS];
	uint64_t refused_rate[ABUSE_KINDS];
	uint64_t refused_banned[ABUSE_KINDS];
	uint64_t refused_busy;
	uint64_t bans;    /* bans imposed since start */
	uint64_t evicted; /* sources forgotten to stay under max_sources */
};
void abuse_stats(const struct abuse *a, uint64_t now_ms, struct abuse_stats *out);

#endif /* UM_TRUST_ABUSE_H */
