/* SPDX-License-Identifier: MIT */
/*
 * The exit's outbound side (docs/PROTOCOL.md 10.5): turn a BEGIN target (host name or
 * address literal, port, BEGIN flags) into a connected TCP stream, or into the END reason to
 * send back; answer RESOLVE; count what goes through.
 *
 *   exit_conn_open():  resolve (literals never reach the resolver), check every candidate
 *                      address against the exit policy (a private, loopback or link-local
 *                      address only when an explicit rule accepts it, never through a
 *                      wildcard), order by the BEGIN flags, connect with a timeout per address
 *                      and one for the whole open, trying the next address on failure; hand
 *                      over the connected struct ev_tcp with the address and TTL for
 *                      CONNECTED, or fail with an END reason.
 *   exit_resolve():    RESOLVE. The policy does not apply to resolution, but private answers
 *                      are hidden unless the policy explicitly accepts them on some port.
 *   struct exit_stats: bytes in/out, opens by outcome, for the control API and metrics.
 *   tiers (17.6):      with exit_ctx_set_tiers(), an open is judged at its circuit's tier
 *                      (exit_request.tier) by exit_tier.h's rules before the policy; the
 *                      context also carries the token verifier the circuit layer spends
 *                      RELAY_TOKENs with (exit_ctx_set_tokens(), trust/token_verifier.h).
 *
 * exit_conn.c holds the decisions (address filter and order, errno -> END reason) without I/O;
 * exit_io.c drives them on the event loop. Everything runs on the loop thread. Callbacks run
 * from the loop, never from inside a call made here.
 *
 * END reasons and BEGIN flags repeat the numbers of circuit/relay_msg.h (tor-spec 6.2, 6.3):
 * the exit sits below the circuit layer and cannot include it.
 */
#ifndef UM_EXIT_EXIT_CONN_H
#define UM_EXIT_EXIT_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "lib/compiler.h"
#include "lib/mem.h"
#include "evloop/evloop.h"
#include "exit/exit_policy.h"
#include "exit/exit_tier.h"

/* END reasons the exit gives (= enum relay_end_reason). */
enum exit_end_reason {
	EXIT_END_MISC = 1,
	EXIT_END_RESOLVEFAILED = 2,
	EXIT_END_CONNECTREFUSED = 3,
	EXIT_END_EXITPOLICY = 4,
	EXIT_END_TIMEOUT = 7,
	EXIT_END_NOROUTE = 8,
	EXIT_END_INTERNAL = 10,
	EXIT_END_RESOURCELIMIT = 11,
	EXIT_END_CONNRESET = 12,
	EXIT_END_REASON_MAX = 14, /* highest END reason on the wire (stats array bound) */
};

/* BEGIN flags (= enum relay_begin_flags). IPV4_NOT_OK counts only together with IPV6_OK. */
enum exit_begin_flags {
	EXIT_F_IPV6_OK = 0x1,
	EXIT_F_IPV4_NOT_OK = 0x2,
	EXIT_F_IPV6_PREFERRED = 0x4,
};

/* Request host types (= enum relay_host_type). */
enum exit_host_type {
	EXIT_HOST_NAME = 1,
	EXIT_HOST_IPV4 = 4,
	EXIT_HOST_IPV6 = 6,
};

enum exit_conn_limits {
	EXIT_ADDRS_MAX = 16, /* candidate addresses of one open (= EV_RESOLVE_MAX_ADDRS) */
	EXIT_DNS_TTL = 300,  /* seconds, in CONNECTED / END / RESOLVED: getaddrinfo gives none */
	EXIT_CONNECT_TIMEOUT_MS_DEFAULT = 10 * 1000, /* one address */
	EXIT_OPEN_TIMEOUT_MS_DEFAULT = 30 * 1000,    /* a whole open, resolution included */
	EXIT_RESOLVE_TIMEOUT_MS_DEFAULT = 10 * 1000, /* one lookup */
	EXIT_PENDING_MAX_DEFAULT = 256,              /* opens + resolves in progress */
	EXIT_TRIES_MAX_DEFAULT = 4,                  /* addresses tried by one open */
};

struct exit_conn_config {
	uint32_t connect_timeout_ms; /* > 0 */
	uint32_t open_timeout_ms;    /* > 0 */
	uint32_t resolve_timeout_ms; /* > 0 */
	uint32_t pending_max;        /* > 0; over it an open or resolve is refused */
	uint32_t tries_max;          /* 1..EXIT_ADDRS_MAX */
};

/* An address: family EXIT_AF_IPV4 (addr[0..3]) or EXIT_AF_IPV6 (addr[0..15]); 0 = none. */
struct exit_addr {
	uint8_t family;
	uint8_t addr[16];
};

/* A BEGIN target. name is borrowed for the call (copied if needed). */
struct exit_request {
	uint8_t type;     /* enum exit_host_type */
	const char *name; /* EXIT_HOST_NAME: a DNS name (circuit/relay_msg.h rules) */
	uint8_t addr[16]; /* EXIT_HOST_IPV4 / IPV6 */
	uint16_t port;    /* 1..65535 */
	uint32_t flags;   /* enum exit_begin_flags; other bits ignored */
	uint8_t tier;     /* the circuit's tier (exit_tier.h): 0 without a token */
};

struct exit_conn_result {
	int status;     /* UM_OK, or a negative um_err for logs (the reason is what to send) */
	uint8_t reason; /* on failure: enum exit_end_reason; 0 on success */
	/* On success: the connected stream, now owned by the callee, which must set its ops
	 * (ev_tcp_set_ops) and start reading; TCP_NODELAY is on. NULL on failure. */
	struct ev_tcp *tcp;
	/* On success the address connected to (for CONNECTED); on EXITPOLICY the first address
	 * the policy refused (for END), or family 0 when the port was refused before resolving. */
	struct exit_addr addr;
	uint32_t ttl; /* seconds, with addr */
};

struct exit_stats {
	uint64_t bytes_in;  /* from destinations (exit_ctx_count_bytes) */
	uint64_t bytes_out; /* to destinations */
	uint64_t opens;     /* exit_conn_open() calls */
	uint64_t connects_ok;
	/* Opens that failed, by END reason, refusals at the call included; [0] unused. */
	uint64_t connects_failed[EXIT_END_REASON_MAX + 1];
	uint64_t opens_cancelled;
	uint64_t connect_attempts; /* TCP connects started (an open may try several addresses) */
	uint64_t resolves_ok;      /* exit_resolve() answered with addresses */
	uint64_t resolves_failed;  /* ... with an error (refusals at the call included) */
	uint64_t private_hidden;   /* private answers withheld from RESOLVED */
	uint32_t pending;          /* opens and resolves in progress */
};

struct exit_ctx;
struct exit_conn;
struct exit_resolve;
struct token_verifier; /* trust/token_verifier.h */

/* ---- exit_conn.c: decisions, no I/O ---- */

/* Fill cfg with the defaults above. */
void exit_conn_config_init(struct exit_conn_config *cfg);
/*
 * May the exit connect to addr:port under p? The first matching rule must accept, and a
 * private address (exit_addr_is_private()) only counts as accepted when that rule names
 * addresses explicitly ("private", an IPv4 or IPv6 address or prefix): a wildcard ("*",
 * "*4", "*6") never reaches a private address.
 */
bool exit_addr_allowed(const struct exit_policy *p, const struct exit_addr *a, uint16_t port);
/*
 * exit_addr_allowed() at a circuit's tier: tier_rules (exit_tier_rules(); NULL: none) must
 * not refuse addr:port (exit_tier_rejects()), then p decides.
 */
bool exit_dest_allowed(const struct exit_policy *p, const struct exit_policy *tier_rules,
                       const struct exit_addr *a, uint16_t port);
/* May some address be allowed at port (a host name is refused before resolving if not)? */
bool exit_port_may_accept(const struct exit_policy *p, uint16_t port);
/* RESOLVE: is this answer shown? Public addresses always; private ones when
 * exit_addr_allowed() holds for some port. */
bool exit_answer_visible(const struct exit_policy *p, const struct exit_addr *a);
/*
 * Candidates for an open, in connect order: from in[0..n_in) (sockaddr_in / sockaddr_in6),
 * drop the families the BEGIN flags exclude, drop what exit_dest_allowed() refuses (the
 * first such address goes to *refused, else refused->family is 0), then IPv6 first if
 * EXIT_F_IPV6_PREFERRED, else IPv4 first, resolver order kept within a family. Returns the
 * count written to out (capacity EXIT_ADDRS_MAX); *n_family counts the addresses left after
 * the family filter (so 0 candidates with *n_family > 0 means the policy refused them all).
 */
size_t exit_candidates(const struct exit_policy *p, const struct exit_policy *tier_rules,
                       uint32_t flags, uint16_t port, const struct sockaddr_storage *in,
                       size_t n_in, struct sockaddr_storage *out, size_t *n_family,
                       struct exit_addr *refused);
/* The END reason for a failed connect(2) errno. */
uint8_t exit_end_reason_from_errno(int e);
/* The um_err reported with an END reason in struct exit_conn_result.status. */
int exit_end_reason_status(uint8_t reason);
/* sockaddr_in / sockaddr_in6 -> exit_addr (family 0 for anything else). */
void exit_addr_from_sockaddr(const struct sockaddr *sa, struct exit_addr *out);

/* ---- exit_io.c: on the event loop ---- */

/*
 * A new exit context on loop; policy (borrowed: must outlive the context or be replaced
 * with exit_ctx_set_policy()) and a copy of cfg (NULL: defaults). The caller owns the
 * context and frees it with exit_ctx_free() before freeing the loop; freeing cancels every
 * pending open and resolve (no callbacks). UM_ERR_INVALID for a config out of range.
 */
int exit_ctx_new(struct ev_loop *loop, const struct exit_policy *policy,
                 const struct exit_conn_config *cfg, struct exit_ctx **out) UM_WARN_UNUSED;
void exit_ctx_free_(struct exit_ctx *ctx);
#define exit_ctx_free(c) UM_FREE_AND_NULL(exit_ctx_free_, c)
/* Use policy (borrowed) for every later decision, pending opens' included. */
void exit_ctx_set_policy(struct exit_ctx *ctx, const struct exit_policy *policy);
/*
 * Judge opens and resolves by the circuit's tier (docs/PROTOCOL.md 17.6) with tp (borrowed,
 * like the policy; NULL, the default: tiers are ignored), pending opens included.
 */
void exit_ctx_set_tiers(struct exit_ctx *ctx, const struct exit_tier_policy *tp);
/*
 * May a RESOLVE be answered on a circuit of tier? False when the tier may open nothing:
 * require_token at tier 0, or tier rules that refuse every destination (exit_tier.h); the
 * tier rules do not otherwise restrict resolution, as the exit policy does not (10.5).
 */
bool exit_ctx_tier_may_resolve(const struct exit_ctx *ctx, uint8_t tier);
/*
 * The token verifier circuits of this exit spend their tokens with (RELAY_TOKEN, PROTOCOL.md
 * 17.5), borrowed; NULL (the default): no issuer is trusted.
 */
void exit_ctx_set_tokens(struct exit_ctx *ctx, struct token_verifier *tv);
struct token_verifier *exit_ctx_tokens(const struct exit_ctx *ctx);
/* Copy the counters. */
void exit_ctx_stats(const struct exit_ctx *ctx, struct exit_stats *out);
/* Count stream bytes relayed on a stream the exit opened (the stream's owner calls it). */
void exit_ctx_count_bytes(struct exit_ctx *ctx, uint64_t in, uint64_t out);

/*
 * The open's outcome: res valid only during the call; on success res->tcp belongs to the
 * callee. The open's handle is gone once the callback starts (cancel from inside is a no-op).
 */
typedef void exit_conn_fn(void *arg, const struct exit_conn_result *res);
/*
 * Start opening a stream for req. UM_OK: *out is the pending open, valid until its callback
 * starts or exit_conn_cancel(); cb runs exactly once unless cancelled. Otherwise the open was
 * decided at once and no callback will run: *res holds the failure and the return value is
 * res->status, e.g. UM_ERR_PERM (EXITPOLICY: the port is refused for every address, or the
 * literal is refused, or its family is excluded by the flags, or the tier set with
 * exit_ctx_set_tiers() refuses it: req->tier is not admitted, or its rules refuse the port
 * for every address or refuse the literal), UM_ERR_RATELIMIT
 * (RESOURCELIMIT: pending_max opens and resolves already), UM_ERR_NOT_FOUND (RESOLVEFAILED:
 * a name under .onion or .anon, which the exit never resolves), UM_ERR_INVALID (MISC: a bad
 * request).
 */
int exit_conn_open(struct exit_ctx *ctx, const struct exit_request *req, exit_conn_fn *cb,
                   void *arg, struct exit_conn **out, struct exit_conn_result *res) UM_WARN_UNUSED;
/* Abandon a pending open at any stage (resolving, connecting, failure not yet delivered):
 * no callback, any socket closed. NULL is a no-op. */
void exit_conn_cancel(struct exit_conn *c);

struct exit_resolve_result {
	/* UM_OK: n >= 1 answers. Otherwise an error answer: UM_ERR_NOT_FOUND is permanent (no
	 * such name, or every answer private and hidden); UM_ERR_TIMEOUT, UM_ERR_SYS and
	 * UM_ERR_RATELIMIT are transient. */
	int status;
	bool transient;
	size_t n;
	struct exit_addr answers[EXIT_ADDRS_MAX];
	uint32_t ttl; /* seconds, for every answer */
};
typedef void exit_resolve_fn(void *arg, const struct exit_resolve_result *res);
/*
 * RESOLVE name (a DNS name; a literal answers itself). Same contract as exit_conn_open():
 * UM_OK and one callback, or a failure at once in *res (UM_ERR_RATELIMIT over pending_max,
 * UM_ERR_NOT_FOUND for .onion / .anon names, UM_ERR_INVALID for a bad name).
 */
int exit_resolve(struct exit_ctx *ctx, const char *name, exit_resolve_fn *cb, void *arg,
                 struct exit_resolve **out, struct exit_resolve_result *res) UM_WARN_UNUSED;
void exit_resolve_cancel(struct exit_resolve *r);

#ifdef UM_UNIT_TESTS
/*
 * An open that skips resolution: as if the resolver had answered addrs[0..n) (sockaddrs with
 * the port set). The address filter, order, connects and callback are exit_conn_open()'s.
 * UM_ERR_INVALID (no callback) for n == 0 or > EXIT_ADDRS_MAX, port 0, or over pending_max.
 */
int exit_conn_open_addrs(struct exit_ctx *ctx, const struct sockaddr_storage *addrs, size_t n,
                         uint16_t port, uint32_t flags, exit_conn_fn *cb, void *arg,
                         struct exit_conn **out) UM_WARN_UNUSED;
#endif

#endif /* UM_EXIT_EXIT_CONN_H */
